/**
 * The reading side's byte source: pulls chunks from an AsyncIterable (a Node Readable is
 * one, an array of chunks works too) and exposes a synchronous big-endian cursor over a window of them.
 *
 * Waiting for bytes is the source's job, not the parser's: the parser calls
 * `await ensure(n)` at record boundaries (or `if (src.available < n)` first, to skip the
 * await on the hot path), then reads synchronously. So a parser only ever sees bad bytes or
 * a truncated stream, and the StreamError for the latter names the offset where the missing
 * bytes should have started.
 *
 * Buffering is bounded: the window is either a chunk as received (no copy) or, when the
 * bytes asked for straddle chunks, exactly those bytes gathered into one reused staging
 * buffer; the rest of the last chunk waits as `pending`. So at most `n` bytes plus one chunk
 * are held. Views returned by `take()` are valid until the next `ensure()`/`skip()`/`readFresh()`.
 */
import { InvalidArgumentError, StreamError } from '../errors.js';

/** What a ByteSource reads: chunks from an async iterable (a Node Readable) or a plain one (an array). */
export type ByteInput = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

const EMPTY = new Uint8Array(0);
/** readFresh starts with at most this much and doubles as bytes arrive. */
const FRESH_INITIAL_BYTES = 1024 * 1024;

export class ByteSource {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private win: Uint8Array<ArrayBufferLike> = EMPTY;
  private winBuffer: ArrayBufferLike = EMPTY.buffer;
  private view: DataView<ArrayBufferLike> = new DataView(EMPTY.buffer);
  private pos = 0;
  /** Absolute stream offset of win[0]. */
  private winBase = 0;
  /** Bytes received after the window's end, not yet in it. */
  private pending: Uint8Array | null = null;
  private staging: Uint8Array<ArrayBufferLike> = new Uint8Array(8192);
  private stagingView: DataView<ArrayBufferLike> = new DataView(this.staging.buffer);
  private ended = false;

  constructor(input: ByteInput) {
    this.iterator = Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : fromSync(input[Symbol.iterator]());
  }

  /** Absolute stream offset of the next unread byte. */
  get offset(): number {
    return this.winBase + this.pos;
  }

  /** Bytes readable synchronously right now. */
  get available(): number {
    return this.win.length - this.pos;
  }

  /**
   * Makes `n` bytes readable synchronously.
   * @throws StreamError "truncated <what>" at the current offset when the input ends first;
   *   the bytes that did arrive stay readable.
   */
  async ensure(n: number, what: string): Promise<void> {
    if (this.win.length - this.pos >= n) return;
    const start = this.offset;
    if (this.win.length === this.pos) {
      const chunk = await this.pull();
      if (chunk === null) throw truncated(what, n, 0, start);
      this.setWindow(chunk, viewOf(chunk), start);
      if (chunk.length >= n) return;
    }
    // Gather the rest of the window and what follows into the staging buffer.
    const rest = this.win.subarray(this.pos);
    if (this.staging.length < n) {
      const grown = new Uint8Array(Math.max(n, this.staging.length * 2));
      grown.set(rest);
      this.staging = grown;
      this.stagingView = new DataView(grown.buffer);
    } else if (rest.buffer === this.staging.buffer) {
      this.staging.copyWithin(0, rest.byteOffset - this.staging.byteOffset, rest.byteOffset - this.staging.byteOffset + rest.length);
    } else {
      this.staging.set(rest);
    }
    let filled = rest.length;
    while (filled < n) {
      const chunk = await this.pull();
      if (chunk === null) {
        this.setWindow(this.staging.subarray(0, filled), this.stagingView, start);
        throw truncated(what, n, filled, start);
      }
      const k = Math.min(n - filled, chunk.length);
      this.staging.set(k === chunk.length ? chunk : chunk.subarray(0, k), filled);
      filled += k;
      if (k < chunk.length) this.pending = chunk.subarray(k);
    }
    this.setWindow(this.staging.subarray(0, filled), this.stagingView, start);
  }

  /** True when the input has ended with nothing left to read (a clean end). */
  async atEnd(): Promise<boolean> {
    if (this.win.length > this.pos) return false;
    const start = this.offset;
    const chunk = await this.pull();
    if (chunk === null) return true;
    this.setWindow(chunk, viewOf(chunk), start);
    return false;
  }

  readU8(): number {
    this.check(1);
    return this.win[this.pos++]!;
  }

  readBe16(): number {
    this.check(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  readBe32(): number {
    this.check(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** The next byte without consuming it (call after `ensure(1)`). */
  peekU8(): number {
    this.check(1);
    return this.win[this.pos]!;
  }

  /** A view of the next `n` ensured bytes; valid until the next `ensure`/`skip`/`readFresh`. */
  take(n: number): Uint8Array {
    this.check(n);
    const v = this.win.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /**
   * Consumes the next `n` ensured bytes and returns their index in `windowBytes`: `take()`
   * for readers that work on offsets and want no view per record. Valid as `take()`'s view.
   */
  takeAt(n: number): number {
    this.check(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** The buffer `takeAt()` indexes into (the current window). */
  get windowBytes(): Uint8Array {
    return this.win;
  }

  /** `windowBytes.buffer`, kept when the window changes (a per-record `.buffer` costs a call into V8). */
  get windowBuffer(): ArrayBufferLike {
    return this.winBuffer;
  }

  /** Discards `n` bytes without buffering them. @throws StreamError when the input ends first. */
  async skip(n: number, what: string): Promise<void> {
    const start = this.offset;
    let left = n;
    for (;;) {
      const k = Math.min(left, this.win.length - this.pos);
      this.pos += k;
      left -= k;
      if (left === 0) return;
      const at = this.offset;
      const chunk = await this.pull();
      if (chunk === null) throw truncated(what, n, n - left, start);
      this.setWindow(chunk, viewOf(chunk), at);
    }
  }

  /**
   * Reads `n` bytes into a new buffer of exactly that size (for large, rare payloads that
   * should not grow the staging buffer). The caller bounds `n` first; memory grows with the
   * bytes that actually arrive.
   * @throws StreamError when the input ends first.
   */
  async readFresh(n: number, what: string): Promise<Uint8Array> {
    const start = this.offset;
    // Grow with what arrives: a stream that claims n bytes but sends few costs little.
    let out = new Uint8Array(Math.min(n, FRESH_INITIAL_BYTES));
    let filled = 0;
    for (;;) {
      const k = Math.min(n - filled, this.win.length - this.pos);
      if (filled + k > out.length) {
        const grown = new Uint8Array(Math.min(n, Math.max(out.length * 2, filled + k)));
        grown.set(out.subarray(0, filled));
        out = grown;
      }
      out.set(this.win.subarray(this.pos, this.pos + k), filled);
      this.pos += k;
      filled += k;
      if (filled === n) return out;
      const at = this.offset;
      const chunk = await this.pull();
      if (chunk === null) throw truncated(what, n, filled, start);
      this.setWindow(chunk, viewOf(chunk), at);
    }
  }

  /**
   * A view of the next `n` ensured bytes without consuming them (call after `ensure(n)`); valid
   * as `take()`'s view.
   */
  peekBytes(n: number): Uint8Array {
    this.check(n);
    return this.win.subarray(this.pos, this.pos + n);
  }

  /**
   * Reads everything left in the input into one buffer of its own and makes that buffer the
   * window, so reading goes on over it as before: for a reader that must see the end of the
   * stream (QEMU's VM description) before it can parse what comes first. Bounded: more than
   * `maxBytes` fails as soon as the excess arrives, having held at most `maxBytes` (twice that
   * while the buffer grows).
   * @returns the buffered bytes (offset `offset` at the call is index 0); valid until `close()`.
   * @throws StreamLimitError (via `overLimit`) when more than `maxBytes` are left.
   */
  async bufferRest(maxBytes: number, overLimit: (offset: number) => Error): Promise<Uint8Array> {
    const start = this.offset;
    let out = new Uint8Array(Math.min(maxBytes, Math.max(this.win.length - this.pos, 64 * 1024)));
    let filled = 0;
    let chunk: Uint8Array | null = this.win.subarray(this.pos);
    while (chunk !== null) {
      if (filled + chunk.length > maxBytes) throw overLimit(start + maxBytes);
      if (filled + chunk.length > out.length) {
        const grown = new Uint8Array(Math.min(maxBytes, Math.max(out.length * 2, filled + chunk.length)));
        grown.set(out.subarray(0, filled));
        out = grown;
      }
      out.set(chunk, filled); // a copy: the input may reuse its chunks
      filled += chunk.length;
      chunk = await this.pull();
    }
    const rest = out.subarray(0, filled);
    this.setWindow(rest, viewOf(rest), start);
    return rest;
  }

  /** Tells the input we are done with it (closes a file or socket iterator early). */
  async close(): Promise<void> {
    this.pending = null;
    if (!this.ended) {
      this.ended = true;
      await this.iterator.return?.();
    }
  }

  private check(n: number): void {
    if (this.win.length - this.pos < n) {
      throw new StreamError(`internal: read of ${n} bytes past the ${this.win.length - this.pos} ensured`, this.offset);
    }
  }

  private setWindow(bytes: Uint8Array, view: DataView, base: number): void {
    this.win = bytes;
    this.winBuffer = bytes.buffer;
    this.view = view;
    this.pos = 0;
    this.winBase = base;
  }

  /** The next non-empty chunk: the pending rest of the last one, else a new one; null at the end. */
  private async pull(): Promise<Uint8Array | null> {
    if (this.pending !== null) {
      const p = this.pending;
      this.pending = null;
      return p;
    }
    while (!this.ended) {
      const r = await this.iterator.next();
      if (r.done === true) {
        this.ended = true;
        return null;
      }
      const chunk: unknown = r.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new InvalidArgumentError(`stream input yielded a ${typeof chunk}, not bytes (a Readable with an encoding set?)`);
      }
      if (chunk.length > 0) return chunk;
    }
    return null;
  }
}

function fromSync(it: Iterator<Uint8Array>): AsyncIterator<Uint8Array> {
  return {
    next: async () => it.next(),
    return: async () => it.return?.() ?? { done: true, value: undefined },
  };
}

function viewOf(chunk: Uint8Array): DataView {
  return new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function truncated(what: string, need: number, got: number, offset: number): StreamError {
  return new StreamError(`truncated ${what}: need ${need} bytes, the stream ends after ${got}`, offset);
}
