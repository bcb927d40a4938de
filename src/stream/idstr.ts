/**
 * idstr encoding: a RAM block or section name travels as `u8 len, len bytes` (UTF-8 here;
 * QEMU's names are ASCII). The writer keeps one encoded copy per name it has seen so that
 * a record header costs no allocation.
 */
import { InvalidArgumentError } from '../errors.js';
import { MAX_IDSTR_BYTES } from './constants.js';

const encoder = new TextEncoder();

/** Encodes a name for the wire. @throws InvalidArgumentError when empty or over 255 bytes. */
export function encodeIdstr(idstr: string, what: string): Uint8Array {
  const bytes = encoder.encode(idstr);
  if (bytes.length === 0 || bytes.length > MAX_IDSTR_BYTES) {
    throw new InvalidArgumentError(`${what} name '${idstr}' is ${bytes.length} bytes; it must be 1..${MAX_IDSTR_BYTES}`);
  }
  return bytes;
}

/** Encoded names, built on first use. */
export class IdstrCache {
  private readonly names = new Map<string, Uint8Array>();

  constructor(private readonly what: string) {}

  get(idstr: string): Uint8Array {
    let bytes = this.names.get(idstr);
    if (bytes === undefined) {
      bytes = encodeIdstr(idstr, this.what);
      this.names.set(idstr, bytes);
    }
    return bytes;
  }
}

/**
 * The file name analyze gives a block's contents: every character outside `[A-Za-z0-9._-]`
 * becomes `_`, then `.bin` is appended (so "/rom@etc/acpi/tables" → "_rom_etc_acpi_tables.bin";
 * ".." → "...bin", which stays inside the directory).
 */
export function blockFileName(idstr: string): string {
  return `${idstr.replace(/[^A-Za-z0-9._-]/gu, '_')}.bin`;
}
