/**
 * The pure TypeScript kernel: word-at-a-time XBZRLE and XBRLE encoders, zero and
 * duplicate page tests. It is the reference the WebAssembly kernel must match byte for
 * byte, and the kernel used when WebAssembly SIMD is unavailable or the buffers are not
 * word aligned. Encoders take two passes: a cheap density scan that gives up on pages
 * whose encoding must overflow (a lower bound on its size passes the budget), then the
 * exact QEMU emission loop, which starts at the first change and stops after the last.
 */
import { LITTLE_ENDIAN, lowestNonZeroByte, nonZeroByteMask, wordView } from './word-view.js';

/** Words the density scan sums per byte lane between folds (a multiple of 4, under 256). */
const LANE_WORDS = 32;

/** A bound past this after a window makes the density scan touch the rest of the page ahead. */
const TOUCH_BOUND = 32;

/** Result of the density scan. */
const enum Scan { Overflow = -1, Unchanged = 0, Changed = 1 }

export class TsKernel {
  /** First and last changed byte found by the last density scan. */
  private first = 0;
  private last = 0;
  /** @internal What the density scan's touch loads read, kept so that they are not optimized away. */
  touched = 0;

  /** XBZRLE encode, QEMU's exact result: bytes written, 0 when unchanged, -1 on overflow. */
  xbzrleEncode(old: Uint8Array, cur: Uint8Array, out: Uint8Array): number {
    const slen = cur.length;
    const dlen = out.length;
    if (dlen < 2) return -1; // QEMU tests for room before it looks at the page, even an unchanged one
    const ow = wordView(old);
    const cw = ow === undefined ? undefined : wordView(cur);
    const scan = cw === undefined ? this.scanBytes(old, cur, dlen, 0) : this.scanWords(ow!, cw, dlen, 0);
    if (scan !== Scan.Changed) return scan;
    const end = this.last + 1; // nothing changes at or after `end`
    let d = 0;
    let i = 0;
    while (i < slen) {
      if (d + 2 > dlen) return -1;
      const j = i === 0 ? this.first : i >= end ? slen : nextDiff(old, cur, ow, cw, i, end);
      if (j >= end) return d; // only the trailing zero run is left, and it is not written
      d = writeUleb(out, d, j - i);
      if (d + 2 > dlen) return -1;
      const k = nextEqual(old, cur, ow, cw, j, end);
      const n = k - j;
      d = writeUleb(out, d, n);
      if (d + n > dlen) return -1;
      copyBytes(cur, j, out, d, n);
      d += n;
      i = k;
    }
    return d;
  }

  /**
   * XBRLE encode (XBRLE (2011)'s format): run-length (count, byte) pairs of old XOR cur over
   * the whole page, runs maximal and split at 255. 0 when unchanged, -1 when the pairs
   * would not fit in `out`.
   */
  xbrleEncode(old: Uint8Array, cur: Uint8Array, out: Uint8Array): number {
    const slen = cur.length;
    const budget = out.length;
    const ow = wordView(old);
    const cw = ow === undefined ? undefined : wordView(cur);
    // Each changed run and each gap between two of them is at least one pair.
    const scan = cw === undefined ? this.scanBytes(old, cur, budget, 1) : this.scanWords(ow!, cw, budget, 1);
    if (scan !== Scan.Changed) return scan;
    const end = this.last + 1;
    let d = 0;
    let i = 0;
    while (i < slen) {
      const v = old[i]! ^ cur[i]!;
      let j: number;
      if (v === 0) {
        j = i >= end ? slen : nextDiff(old, cur, ow, cw, i, end);
        if (j >= end) j = slen;
      } else {
        j = i + 1;
        while (j < slen && (old[j]! ^ cur[j]!) === v) j++;
      }
      let run = j - i;
      while (run > 0) {
        if (d + 2 > budget) return -1;
        const count = run > 255 ? 255 : run;
        out[d] = count;
        out[d + 1] = v;
        d += 2;
        run -= count;
      }
      i = j;
    }
    return d;
  }

  isZeroPage(page: Uint8Array): boolean {
    return this.isFilled(page, 0);
  }

  dupPageByte(page: Uint8Array): number {
    if (page.length === 0) return -1;
    const b = page[0]!;
    return this.isFilled(page, b) ? b : -1;
  }

  private isFilled(page: Uint8Array, b: number): boolean {
    const w = wordView(page);
    if (w === undefined) {
      for (let i = 0; i < page.length; i++) if (page[i] !== b) return false;
      return true;
    }
    const fill = Math.imul(b, 0x01010101);
    const n = w.length;
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      if (((w[i]! ^ fill) | (w[i + 1]! ^ fill) | (w[i + 2]! ^ fill) | (w[i + 3]! ^ fill)) !== 0) return false;
    }
    for (; i < n; i++) if (w[i] !== fill) return false;
    return true;
  }

  /**
   * Density scan over words. `mode` 0 (XBZRLE): size >= changed bytes + 2 per changed run;
   * mode 1 (XBRLE): size >= 2 * (2 * runs - 1). Returns Overflow as soon as the bound
   * passes `budget` (exact: the full encoding is at least the bound of any prefix).
   * Whole words at a time: bit 8k+7 of `y` marks a changed byte k, `starts` the changed
   * bytes whose predecessor did not change, and a multiply adds up each.
   */
  private scanWords(ow: Int32Array, cw: Int32Array, budget: number, mode: 0 | 1): Scan {
    const n = cw.length;
    let w = 0;
    for (; w + 4 <= n; w += 4) {
      if (((ow[w]! ^ cw[w]!) | (ow[w + 1]! ^ cw[w + 1]!) | (ow[w + 2]! ^ cw[w + 2]!) | (ow[w + 3]! ^ cw[w + 3]!)) !== 0) break;
    }
    while (w < n && ow[w] === cw[w]) w++;
    if (w >= n) return Scan.Unchanged;
    const first = (w << 2) + lowestNonZeroByte(ow[w]! ^ cw[w]!);
    // Groups of 4 words from the group holding the first change (the words before it are
    // equal and add nothing). Per byte lane, over a window of LANE_WORDS words, `changed`
    // counts changed bytes and `starts` run starts (at most 1 a lane a word: 32 < 256);
    // the bound is folded and checked after each window (it only grows, so this gives up at
    // most a window later than checking every word).
    w &= ~3;
    const groupsEnd = n & ~3;
    let bound = 0;
    let carry = 0; // 0x80 when the last byte of the previous word changed
    let lastGroup = w;
    let touched = false;
    while (w < groupsEnd) {
      const windowEnd = w + LANE_WORDS < groupsEnd ? w + LANE_WORDS : groupsEnd;
      let changed = 0;
      let starts = 0;
      for (; w < windowEnd; w += 4) {
        const x0 = ow[w]! ^ cw[w]!;
        const x1 = ow[w + 1]! ^ cw[w + 1]!;
        const x2 = ow[w + 2]! ^ cw[w + 2]!;
        const x3 = ow[w + 3]! ^ cw[w + 3]!;
        if ((x0 | x1 | x2 | x3) === 0) {
          carry = 0;
          continue;
        }
        // branch-free over the group: a word with x = 0 has y = 0 and adds nothing
        const y0 = (((x0 & 0x7f7f7f7f) + 0x7f7f7f7f) | x0) & 0x80808080;
        const y1 = (((x1 & 0x7f7f7f7f) + 0x7f7f7f7f) | x1) & 0x80808080;
        const y2 = (((x2 & 0x7f7f7f7f) + 0x7f7f7f7f) | x2) & 0x80808080;
        const y3 = (((x3 & 0x7f7f7f7f) + 0x7f7f7f7f) | x3) & 0x80808080;
        const s0 = y0 & ~((y0 << 8) | carry);
        const s1 = y1 & ~((y1 << 8) | ((y0 >>> 31) << 7));
        const s2 = y2 & ~((y2 << 8) | ((y1 >>> 31) << 7));
        const s3 = y3 & ~((y3 << 8) | ((y2 >>> 31) << 7));
        carry = (y3 >>> 31) << 7;
        changed += (y0 >>> 7) + (y1 >>> 7) + (y2 >>> 7) + (y3 >>> 7);
        starts += (s0 >>> 7) + (s1 >>> 7) + (s2 >>> 7) + (s3 >>> 7);
        lastGroup = w;
      }
      const runs = Math.imul(starts, 0x01010101) >>> 24;
      bound += mode === 0 ? (Math.imul(changed, 0x01010101) >>> 24) + 2 * runs : 4 * runs;
      if ((mode === 0 ? bound : bound - 2) > budget) return Scan.Overflow;
      if (bound > TOUCH_BOUND && !touched) {
        // A dense start: one load per cache line of the rest of both pages, whose misses
        // overlap, where the scan would wait for each in turn (dense pages from DRAM went
        // 1.6-1.9 -> 2.1-2.2 GB/s). Sparse pages do not need it: the prefetcher keeps up.
        touched = true;
        let t = 0;
        for (let k = w; k < n; k += 16) t |= ow[k]! ^ cw[k]!;
        this.touched = t;
      }
    }
    // the last change: in the tail words past the groups, else in the last changed group
    let last = -1;
    for (let t = n - 1; t >= groupsEnd && last < 0; t--) if (ow[t] !== cw[t]) last = t;
    if (last < 0) {
      last = lastGroup + 3;
      while (ow[last] === cw[last]) last--;
    }
    this.first = first;
    this.last = (last << 2) + 3 - (Math.clz32(ow[last]! ^ cw[last]!) >>> 3);
    return Scan.Changed;
  }

  /** The same scan a byte at a time, for buffers that are not word aligned. */
  private scanBytes(old: Uint8Array, cur: Uint8Array, budget: number, mode: 0 | 1): Scan {
    let changed = 0;
    let runs = 0;
    let inRun = false;
    let first = -1;
    let last = -1;
    for (let i = 0; i < cur.length; i++) {
      if (old[i] === cur[i]) {
        inRun = false;
        continue;
      }
      changed++;
      if (!inRun) runs++;
      inRun = true;
      if (first < 0) first = i;
      last = i;
      if ((mode === 0 ? changed + 2 * runs : 4 * runs - 2) > budget) return Scan.Overflow;
    }
    if (first < 0) return Scan.Unchanged;
    this.first = first;
    this.last = last;
    return Scan.Changed;
  }
}

function writeUleb(out: Uint8Array, d: number, v: number): number {
  if (v < 0x80) {
    out[d] = v;
    return d + 1;
  }
  out[d] = (v & 0x7f) | 0x80;
  out[d + 1] = v >>> 7;
  return d + 2;
}

function copyBytes(src: Uint8Array, from: number, dst: Uint8Array, to: number, n: number): void {
  if (n <= 32) {
    for (let k = 0; k < n; k++) dst[to + k] = src[from + k]!;
  } else {
    dst.set(src.subarray(from, from + n), to);
  }
}

/** Index of the first byte in [i, end) where old and cur differ, or `end`. */
function nextDiff(old: Uint8Array, cur: Uint8Array, ow: Int32Array | undefined, cw: Int32Array | undefined, i: number, end: number): number {
  if (cw !== undefined) {
    while (i < end && (i & 3) !== 0) {
      if (old[i] !== cur[i]) return i;
      i++;
    }
    if (i >= end) return end;
    let w = i >>> 2;
    const we = end >>> 2;
    while (w < we) {
      const x = ow![w]! ^ cw[w]!;
      if (x !== 0) return (w << 2) + lowestNonZeroByte(x);
      w++;
    }
    i = w << 2;
  }
  while (i < end) {
    if (old[i] !== cur[i]) return i;
    i++;
  }
  return end;
}

/** Index of the first byte in [j, end) where old and cur are equal, or `end`. */
function nextEqual(old: Uint8Array, cur: Uint8Array, ow: Int32Array | undefined, cw: Int32Array | undefined, j: number, end: number): number {
  if (cw !== undefined) {
    while (j < end && (j & 3) !== 0) {
      if (old[j] === cur[j]) return j;
      j++;
    }
    if (j >= end) return end;
    let w = j >>> 2;
    const we = end >>> 2;
    while (w < we) {
      const m = nonZeroByteMask(ow![w]! ^ cw[w]!);
      if (m !== 15) return (w << 2) + (31 - Math.clz32((m + 1) & ~m));
      w++;
    }
    j = w << 2;
  }
  while (j < end) {
    if (old[j] === cur[j]) return j;
    j++;
  }
  return end;
}

export { LITTLE_ENDIAN };
