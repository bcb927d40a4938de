/**
 * The benchmark's page sets. bench/c/xbzrle_ref.c builds the same bytes with the same
 * generator and seeds; the bench compares the hashes both sides print before it trusts
 * a ratio.
 *
 * - old pages: random bytes (xorshift32 from SEED_DATA, little-endian words)
 * - unchanged: new == old (a separate copy)
 * - sparse: page i has byte (1234 + i) & 4095 changed
 * - scatter16: 16 offsets per page from xorshift32(SEED_SCATTER) changed (a repeat is rare)
 * - dense: every other byte (the even ones) changed, so the encoding overflows
 * A changed byte is old ^ 0xA5.
 */
export const PAGE_BYTES = 4096;
export const PATTERNS = ['unchanged', 'sparse', 'scatter16', 'dense'] as const;
export type Pattern = (typeof PATTERNS)[number];

const SEED_DATA = 0x9e3779b9;
const SEED_SCATTER = 0x2545f491;
const CHANGE = 0xa5;

/** xorshift32; `s[0]` is the state. */
function next(s: Uint32Array): number {
  let x = s[0]!;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  s[0] = x;
  return s[0]!;
}

export function fillOld(old: Uint8Array, pages: number): void {
  const s = new Uint32Array([SEED_DATA]);
  for (let k = 0; k < pages * PAGE_BYTES; k += 4) {
    const r = next(s);
    old[k] = r;
    old[k + 1] = r >>> 8;
    old[k + 2] = r >>> 16;
    old[k + 3] = r >>> 24;
  }
}

export function makeCur(pattern: Pattern, old: Uint8Array, cur: Uint8Array, pages: number): void {
  cur.set(old.subarray(0, pages * PAGE_BYTES));
  const s = new Uint32Array([SEED_SCATTER]);
  for (let i = 0; i < pages; i++) {
    const base = i * PAGE_BYTES;
    if (pattern === 'sparse') {
      const at = base + ((1234 + i) & (PAGE_BYTES - 1));
      cur[at] = old[at]! ^ CHANGE;
    } else if (pattern === 'scatter16') {
      for (let k = 0; k < 16; k++) {
        const at = base + (next(s) & (PAGE_BYTES - 1));
        cur[at] = old[at]! ^ CHANGE;
      }
    } else if (pattern === 'dense') {
      for (let k = 0; k < PAGE_BYTES; k += 2) cur[base + k] = old[base + k]! ^ CHANGE;
    }
  }
}

/** FNV-1a style over little-endian 32-bit words (the C side's hash_words). */
export function hashWords(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let k = 0; k + 3 < bytes.length; k += 4) {
    const w = bytes[k]! | (bytes[k + 1]! << 8) | (bytes[k + 2]! << 16) | (bytes[k + 3]! << 24);
    h = Math.imul(h ^ w, 0x01000193);
  }
  return h >>> 0;
}
