/**
 * A byte copy between typed arrays that stays fast when one side is shared memory.
 *
 * V8 copies to or from a SharedArrayBuffer with relaxed atomic stores, a machine word at a
 * time only when source and destination sit at the same address modulo 8, and one byte at a
 * time otherwise. Stream records put page data at any offset (an 8-byte header, a named one of
 * 9 + len bytes, 9-byte ZERO records before it), so a page copied between guest RAM and a
 * stream chunk was often mutually misaligned: 350 ms per GiB instead of 80
 * (`node dist/bench/copy.bench.js`). Such a copy goes through a private bounce page placed at
 * the shared side's alignment: one word-wise relaxed copy, one plain memmove.
 */

/** Bytes bounced per step: one page, the size the hot paths copy. */
const BOUNCE_BYTES = 4096;
/** 8 spare bytes so the bounce copy can start at any alignment. */
const bounce = new Uint8Array(BOUNCE_BYTES + 8);

function isShared(a: Uint8Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}

/**
 * Copies `n` bytes from `src[srcAt..]` to `dst[dstAt..]` (ranges must not overlap; both must
 * be in bounds, as for `dst.set(src.subarray(srcAt, srcAt + n), dstAt)`, whose result it gives).
 */
export function copyBytes(dst: Uint8Array, dstAt: number, src: Uint8Array, srcAt: number, n: number): void {
  const dstAddr = dst.byteOffset + dstAt;
  const srcAddr = src.byteOffset + srcAt;
  if (n < 64) {
    // a short delta: a loop allocates no view (a subarray per record was an allocation per page)
    for (let k = 0; k < n; k++) dst[dstAt + k] = src[srcAt + k]!;
    return;
  }
  if (((dstAddr - srcAddr) & 7) === 0) {
    dst.set(src.subarray(srcAt, srcAt + n), dstAt);
    return;
  }
  const srcShared = isShared(src);
  const dstShared = isShared(dst);
  if (srcShared === dstShared) {
    // both private (memmove, alignment does not matter) or both shared (no bounce helps)
    dst.set(src.subarray(srcAt, srcAt + n), dstAt);
    return;
  }
  // the bounce page sits at the shared side's alignment
  const b = (srcShared ? srcAddr : dstAddr) & 7;
  for (let done = 0; done < n; ) {
    const k = Math.min(BOUNCE_BYTES, n - done);
    bounce.set(src.subarray(srcAt + done, srcAt + done + k), b);
    dst.set(bounce.subarray(b, b + k), dstAt + done);
    done += k;
  }
}
