/**
 * Where the PC's COM1 goes: `--serial stdio|file:PATH|none`, as QEMU's `-serial`. Bytes arrive
 * one at a time from the emulator; they are gathered and written once per turn of the event loop.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { InvalidArgumentError } from '../errors.js';

export type SerialSpec = { kind: 'stdio' } | { kind: 'file'; path: string } | { kind: 'none' };

/** @throws InvalidArgumentError naming the flag for anything but stdio, none or file:PATH. */
export function parseSerial(value: string, flag = '--serial'): SerialSpec {
  if (value === 'stdio' || value === 'none') return { kind: value };
  if (value.startsWith('file:') && value.length > 5) return { kind: 'file', path: value.slice(5) };
  throw new InvalidArgumentError(`${flag} must be stdio, none or file:PATH, got '${value}'`);
}

/** Gathers the guest's bytes and writes them to standard output or a file. */
export class SerialSink {
  private readonly fd: number | undefined;
  private pending: number[] = [];
  private scheduled = false;

  /** @throws InvalidArgumentError when the file cannot be opened. */
  constructor(readonly spec: SerialSpec) {
    if (spec.kind === 'file') {
      try {
        this.fd = openSync(spec.path, 'a');
      } catch (e) {
        throw new InvalidArgumentError(`--serial file:${spec.path}: ${(e as Error).message}`, { cause: e });
      }
    } else if (spec.kind === 'stdio') {
      this.fd = 1;
    }
  }

  /** The callback the PC calls per byte, or undefined for `none`. */
  get write(): ((byte: number) => void) | undefined {
    if (this.fd === undefined) return undefined;
    return (byte) => {
      this.pending.push(byte);
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    };
  }

  flush(): void {
    this.scheduled = false;
    if (this.fd === undefined || this.pending.length === 0) return;
    const bytes = Uint8Array.from(this.pending);
    this.pending = [];
    try {
      writeSync(this.fd, bytes);
    } catch {
      // a closed terminal or a full disk must not stop the guest
    }
  }

  close(): void {
    this.flush();
    if (this.spec.kind === 'file' && this.fd !== undefined) closeSync(this.fd);
  }
}
