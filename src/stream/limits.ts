/**
 * Bounds a destination applies before it allocates or buffers what a stream asks for, and
 * the error it throws when a stream breaks one.
 */
import { LivemigError } from '../errors.js';

/** Analyze's default RAM bound (the CLI's `--max-ram`): 4 GiB. */
export const DEFAULT_ANALYZE_MAX_RAM_BYTES = 4 * 1024 * 1024 * 1024;
/** Largest livemig-device payload buffered by default: 256 MiB. */
export const DEFAULT_MAX_DEVICE_STATE_BYTES = 256 * 1024 * 1024;
/** Largest livemig-machine payload (a machine's configuration, a few hundred bytes) accepted: 1 MiB. */
export const MAX_MACHINE_CONFIG_BYTES = 1024 * 1024;
/**
 * Most bytes buffered by default from a QEMU stream's first device section to its end (the
 * sections, EOF and the VM description, which must arrive before they can be walked): 32 MiB
 * (QEMU 7.2 pc: ~15 KiB of device state and ~60 KiB of description).
 */
export const DEFAULT_MAX_BUFFERED_DEVICE_BYTES = 32 * 1024 * 1024;
/** Largest VM description JSON buffered by default: 16 MiB (QEMU 7.2 pc writes ~60 KiB). */
export const DEFAULT_MAX_VMDESC_BYTES = 16 * 1024 * 1024;
/** Longest configuration-section machine name accepted (QEMU's are under 40 bytes). */
export const MAX_MACHINE_NAME_BYTES = 1024;
/** Most RAM blocks accepted in one block list (QEMU's pc has 6). */
export const MAX_RAM_BLOCKS = 4096;
/** Deepest struct/subsection nesting followed in a VM description. */
export const MAX_VMDESC_DEPTH = 64;

/**
 * A stream asked for more than the destination was configured to accept. Code STREAM_LIMIT;
 * `offset` is where in the stream the request was read, `limit` the bound it broke.
 */
export class StreamLimitError extends LivemigError {
  constructor(message: string, readonly offset: number, readonly limit: number, options?: ErrorOptions) {
    super('STREAM_LIMIT', `${message} at stream offset ${offset}`, options);
  }
}

/** Formats a byte count as `N bytes (X.Y MiB)` for messages. */
export function describeBytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u < 0 ? `${n} bytes` : `${n} bytes (${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]})`;
}
