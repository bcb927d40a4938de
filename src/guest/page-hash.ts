import { PAGE_WORDS } from './page.js';

/**
 * The scanning log's page fingerprint: 64 bits from four 32-bit lanes. Even words feed lanes
 * a and b, odd words lanes c and d (two independent chains halve the loop's latency):
 *
 *   a' = imul(rotl(a, 13) ^ w, 0x85ebca6b)      b' = imul(rotl(b, 17) + w, 0xc2b2ae35)
 *   out = [ a ^ imul(rotl(c, 7), K1),  b ^ imul(rotl(d, 11), K2) ]
 *
 * Each step is a bijection of the word for a fixed lane value and of the lane value for a fixed
 * word (xor/add, rotate, multiply by an odd constant), and the final mix is a bijection of each
 * lane for fixed others. So **a change confined to one 32-bit word always changes both output
 * halves** (no miss is possible). Wider changes miss with probability about 2^-64 for
 * unstructured data; the rotations carry high bits down, so the multiply-xor blind spot
 * (flipping bit 31 of two words) does not cancel. Not cryptographic: a guest that *wants* to
 * hide a write could; use the `compare` method then.
 *
 * Writes the two halves to `out[outIndex]` and `out[outIndex + 1]`. No allocation.
 */
export function pageHashInto(words: Int32Array, wordIndex: number, out: Int32Array, outIndex: number): void {
  let a = 0x243f6a88 | 0;
  let b = 0x13198a2e | 0;
  let c = 0x03707344 | 0;
  let d = 0xa4093822 | 0;
  for (let i = wordIndex, end = wordIndex + PAGE_WORDS; i < end; i += 2) {
    const x = words[i]!;
    const y = words[i + 1]!;
    a = Math.imul(((a << 13) | (a >>> 19)) ^ x, 0x85ebca6b);
    b = Math.imul((((b << 17) | (b >>> 15)) + x) | 0, 0xc2b2ae35);
    c = Math.imul(((c << 13) | (c >>> 19)) ^ y, 0x85ebca6b);
    d = Math.imul((((d << 17) | (d >>> 15)) + y) | 0, 0xc2b2ae35);
  }
  out[outIndex] = a ^ Math.imul((c << 7) | (c >>> 25), 0x27d4eb2f);
  out[outIndex + 1] = b ^ Math.imul((d << 11) | (d >>> 21), 0x165667b1);
}
