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
    if (slen - i < 2) throw new DeltaError(`truncated delta: a zero-run length needs 2 bytes, ${slen - i} left`, i);
    const zAt = i;
    let z = delta[i++]!;
    if (z & 0x80) {
      const b1 = delta[i++]!;
      if (b1 & 0x80) throw new DeltaError('zero-run length is longer than two ULEB128 bytes', zAt);
      z = (z & 0x7f) | (b1 << 7);
    }
    if (zAt !== 0 && z === 0) throw new DeltaError('zero run of length 0 after the first run', zAt);
    d += z;
    if (d > dlen) throw new DeltaError(`zero run of ${z} bytes ends at page offset ${d}, past the ${dlen}-byte page`, zAt);
    if (slen - i < 2) throw new DeltaError(`truncated delta: a changed run needs a length and at least one byte, ${slen - i} left`, i);
    const nAt = i;
    let n = delta[i++]!;
    if (n & 0x80) {
      const b1 = delta[i++]!;
      if (b1 & 0x80) throw new DeltaError('changed-run length is longer than two ULEB128 bytes', nAt);
      n = (n & 0x7f) | (b1 << 7);
    }
    if (n === 0) throw new DeltaError('changed run of length 0', nAt);
    if (d + n > dlen) throw new DeltaError(`changed run of ${n} bytes at page offset ${d} passes the ${dlen}-byte page`, nAt);
    if (i + n > slen) throw new DeltaError(`changed run of ${n} bytes passes the end of the ${slen}-byte delta`, nAt);
    d += n;
    i += n;
  }
}
