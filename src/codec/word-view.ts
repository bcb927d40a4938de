/**
 * Word (Int32Array) views over byte arrays, for the word-at-a-time TypeScript kernel.
 * A view exists only when the bytes are 4-byte aligned and a whole number of words long;
 * callers fall back to byte loops otherwise. The kernel assumes a little-endian host
 * (byte k of a word is bits 8k..8k+7), which `LITTLE_ENDIAN` confirms at load.
 */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function wordView(bytes: Uint8Array): Int32Array | undefined {
  if (!LITTLE_ENDIAN || (bytes.byteOffset & 3) !== 0 || (bytes.length & 3) !== 0) return undefined;
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
}

/** Bit k set when byte k of the 32-bit word `x` is non-zero (k = 0..3). */
export function nonZeroByteMask(x: number): number {
  const y = (((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x) & 0x80808080;
  return ((y >>> 7) & 1) | ((y >>> 14) & 2) | ((y >>> 21) & 4) | ((y >>> 28) & 8);
}

/** Index of the lowest non-zero byte of a non-zero word. */
export function lowestNonZeroByte(x: number): number {
  return (31 - Math.clz32(x & -x)) >>> 3;
}

export const POPCOUNT4 = new Uint8Array([0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4]);
