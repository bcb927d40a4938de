/**
 * XBZRLE decoder (QEMU's format, docs/xbzrle.txt):
 *
 *   page  = zrun nzrun | zrun nzrun page
 *   zrun  = length                 ; bytes that did not change
 *   nzrun = length byte...         ; bytes that changed, then that many NEW bytes
 *   length = ULEB128, at most two bytes (< 16384)
 *
 * It rejects exactly what QEMU's xbzrle_decode_buffer rejects, but unlike QEMU it checks
 * the whole delta before touching the page, so a rejected delta leaves the page as it was.
 */
import { DeltaError, InvalidArgumentError } from '../errors.js';

export function xbzrleDecode(delta: Uint8Array, page: Uint8Array): void {
  // xbzrleDecodeAt's fast path serves whole views too: a copy of it without the range checks
  // measured slower in the codec bench
  xbzrleDecodeAt(delta, 0, delta.length, page, 0, page.length);
}

/**
 * `xbzrleDecode` on ranges of larger buffers, without a view per call: the `slen` delta bytes
 * at `delta[start]` patch the `dlen`-byte page at `mem[at]` (a destination decodes from its
 * receive buffer straight into guest RAM; making two subarrays per page cost as much as the
 * decode). Error offsets are relative to `start`; on an error nothing in `mem` changed.
 * @throws InvalidArgumentError when a range does not lie inside its buffer.
 */
export function xbzrleDecodeAt(delta: Uint8Array, start: number, slen: number, mem: Uint8Array, at: number, dlen: number): void {
  // Fast path, small enough for V8 to inline into the caller's loop: one zero run and one
  // changed run of at most 127 bytes ending the delta (a page written in one place, the
  // commonest hot page). Anything else, valid or not, takes the general path, which checks
  // the whole delta before touching the page.
  const end = start + slen;
  if (slen >= 3 && (start >>> 0) === start && (slen >>> 0) === slen && (at >>> 0) === at && (dlen >>> 0) === dlen && end <= delta.length && at + dlen <= mem.length) {
    let i = start;
    let z = delta[i++]!;
    if (z >= 0x80) {
      const b1 = delta[i++]!;
      if (b1 >= 0x80) return decodeChecked(delta, start, slen, mem, at, dlen); // a third ULEB128 byte: rejected there
      z = (z & 0x7f) | (b1 << 7);
    }
    const n = delta[i++]!;
    if (((n - 1) >>> 0) < 0x7f && i + n === end && z + n <= dlen) {
      const d = at + z;
      mem[d] = delta[i]!;
      for (let k = 1; k < n; k++) mem[d + k] = delta[i + k]!;
      return;
    }
  }
  decodeChecked(delta, start, slen, mem, at, dlen);
}

/** The general path: checks the whole delta (throwing DeltaError), then patches the page. */
function decodeChecked(delta: Uint8Array, start: number, slen: number, mem: Uint8Array, at: number, dlen: number): void {
  const end = start + slen;
  if (!((start >>> 0) === start && (slen >>> 0) === slen && end <= delta.length && (at >>> 0) === at && (dlen >>> 0) === dlen && at + dlen <= mem.length)) badRange(delta, start, slen, mem, at, dlen);
  checkAt(delta, start, slen, dlen);
  let i = start;
  let d = at;
  while (i < end) {
    let b = delta[i++]!;
    let z = b;
    if (b & 0x80) {
      z = (b & 0x7f) | (delta[i++]! << 7);
    }
    d += z;
    b = delta[i++]!;
    let n = b;
    if (b & 0x80) {
      n = (b & 0x7f) | (delta[i++]! << 7);
    }
    if (n <= 16) {
      for (let k = 0; k < n; k++) mem[d + k] = delta[i + k]!;
    } else {
      mem.set(delta.subarray(i, i + n), d);
    }
    d += n;
    i += n;
  }
}

/** Validates a delta against a page of `dlen` bytes; throws DeltaError naming the offset. */
export function xbzrleCheck(delta: Uint8Array, dlen: number): void {
  checkAt(delta, 0, delta.length, dlen);
}

/** xbzrleCheck on the `slen` bytes at `delta[start]`; offsets in errors are relative to `start`. */
function checkAt(delta: Uint8Array, start: number, slen: number, dlen: number): void {
  const end = start + slen;
  let i = start;
  let d = 0;
  while (i < end) {
    if (end - i < 2) reject(Bad.ZrunTruncated, i - start, end - i);
    const zAt = i;
    let z = delta[i++]!;
    if (z & 0x80) {
      const b1 = delta[i++]!;
      if (b1 & 0x80) reject(Bad.ZrunUleb, zAt - start);
      z = (z & 0x7f) | (b1 << 7);
    }
    if (zAt !== start && z === 0) reject(Bad.ZrunZero, zAt - start);
    d += z;
    if (d > dlen) reject(Bad.ZrunPastPage, zAt - start, z, d, dlen);
    if (end - i < 2) reject(Bad.NzrunTruncated, i - start, end - i);
    const nAt = i;
    let n = delta[i++]!;
    if (n & 0x80) {
      const b1 = delta[i++]!;
      if (b1 & 0x80) reject(Bad.NzrunUleb, nAt - start);
      n = (n & 0x7f) | (b1 << 7);
    }
    if (n === 0) reject(Bad.NzrunZero, nAt - start);
    if (d + n > dlen) reject(Bad.NzrunPastPage, nAt - start, n, d, dlen);
    if (i + n > end) reject(Bad.NzrunPastDelta, nAt - start, n, slen);
    d += n;
    i += n;
  }
}

function badRange(delta: Uint8Array, start: number, slen: number, mem: Uint8Array, at: number, dlen: number): never {
  throw new InvalidArgumentError(`xbzrleDecodeAt: delta range ${start}+${slen} of a ${delta.length}-byte buffer or page range ${at}+${dlen} of a ${mem.length}-byte buffer is out of bounds`);
}

const enum Bad { ZrunTruncated, ZrunUleb, ZrunZero, ZrunPastPage, NzrunTruncated, NzrunUleb, NzrunZero, NzrunPastPage, NzrunPastDelta }

/**
 * Throws the DeltaError for `why`. Kept out of xbzrleCheck so that the check stays small
 * enough for V8 to inline (the message templates made it ~30% slower per delta).
 */
function reject(why: Bad, at: number, a = 0, b = 0, c = 0): never {
  switch (why) {
    case Bad.ZrunTruncated:
      throw new DeltaError(`truncated delta: a zero-run length needs 2 bytes, ${a} left`, at);
    case Bad.ZrunUleb:
      throw new DeltaError('zero-run length is longer than two ULEB128 bytes', at);
    case Bad.ZrunZero:
      throw new DeltaError('zero run of length 0 after the first run', at);
    case Bad.ZrunPastPage:
      throw new DeltaError(`zero run of ${a} bytes ends at page offset ${b}, past the ${c}-byte page`, at);
    case Bad.NzrunTruncated:
      throw new DeltaError(`truncated delta: a changed run needs a length and at least one byte, ${a} left`, at);
    case Bad.NzrunUleb:
      throw new DeltaError('changed-run length is longer than two ULEB128 bytes', at);
    case Bad.NzrunZero:
      throw new DeltaError('changed run of length 0', at);
    case Bad.NzrunPastPage:
      throw new DeltaError(`changed run of ${a} bytes at page offset ${b} passes the ${c}-byte page`, at);
    case Bad.NzrunPastDelta:
      throw new DeltaError(`changed run of ${a} bytes passes the end of the ${b}-byte delta`, at);
  }
}
