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
import { DeltaError } from '../errors.js';

export function xbzrleDecode(delta: Uint8Array, page: Uint8Array): void {
  xbzrleCheck(delta, page.length);
  const slen = delta.length;
  let i = 0;
  let d = 0;
  while (i < slen) {
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
      for (let k = 0; k < n; k++) page[d + k] = delta[i + k]!;
    } else {
      page.set(delta.subarray(i, i + n), d);
    }
    d += n;
    i += n;
  }
}

/** Validates a delta against a page of `dlen` bytes; throws DeltaError naming the offset. */
export function xbzrleCheck(delta: Uint8Array, dlen: number): void {
  const slen = delta.length;
  let i = 0;
  let d = 0;
  while (i < slen) {
    if (slen - i < 2) reject(Bad.ZrunTruncated, i, slen - i);
    const zAt = i;
    let z = delta[i++]!;
    if (z & 0x80) {
      const b1 = delta[i++]!;
      if (b1 & 0x80) reject(Bad.ZrunUleb, zAt);
      z = (z & 0x7f) | (b1 << 7);
    }
    if (zAt !== 0 && z === 0) reject(Bad.ZrunZero, zAt);
    d += z;
    if (d > dlen) reject(Bad.ZrunPastPage, zAt, z, d, dlen);
    if (slen - i < 2) reject(Bad.NzrunTruncated, i, slen - i);
    const nAt = i;
    let n = delta[i++]!;
    if (n & 0x80) {
      const b1 = delta[i++]!;
      if (b1 & 0x80) reject(Bad.NzrunUleb, nAt);
      n = (n & 0x7f) | (b1 << 7);
    }
    if (n === 0) reject(Bad.NzrunZero, nAt);
    if (d + n > dlen) reject(Bad.NzrunPastPage, nAt, n, d, dlen);
    if (i + n > slen) reject(Bad.NzrunPastDelta, nAt, n, slen);
    d += n;
    i += n;
  }
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
