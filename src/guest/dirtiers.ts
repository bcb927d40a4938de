/**
 * The page writers of the workloads added for the evaluation (`xbzrle-doc`, `bwmem`, `zipf`,
 * `video`; `mixed` combines them). Each works on a range of region pages and numbers its
 * writes: a sequential dirtier's position is a function of that number alone (`unit` →
 * page and sweep), so the vCPU's work count is all a destination needs to continue it; zipf
 * draws from the vCPU's PRNG, whose state travels in the device state too.
 *
 * Every write marks its page in the explicit dirty log **after** the bytes are stored, like
 * the original workloads, and nothing allocates on the write path.
 */
import { PAGE_SIZE, PAGE_WORDS } from './page.js';
import { prngNext } from './prng.js';

/** Where a dirtier writes: the guest's blocks and the dirty log (implemented by the vCPU). */
export interface PageTarget {
  /** Index of the block holding global page `g`. */
  locate(g: number): number;
  readonly bytesOf: readonly Uint8Array[];
  readonly wordsOf: readonly Int32Array[];
  /** First global page of each block. */
  readonly firstPageOf: readonly number[];
  /** Marks global page `g` dirty (after it was written). */
  mark(g: number): void;
}

/** One workload part: performs `count` writes, numbered from `unit` (its own write count). */
export interface Dirtier {
  write(unit: number, count: number): void;
}

/** 2^-32: a uint32 to a fraction in [0, 1). */
const TO_UNIT = 1 / 4294967296;

/**
 * xbzrle-doc: increments bytes 0, 1024, 2048 and 3072 of each page in turn (QEMU's
 * docs/xbzrle.txt program increments one byte per KiB of its buffer each sweep).
 */
export class XbzrleDocDirtier implements Dirtier {
  /** `first`: global page of the range's start; `pages`: its length. */
  constructor(private readonly t: PageTarget, private readonly first: number, private readonly pages: number) {}

  write(unit: number, count: number): void {
    const t = this.t;
    let i = unit % this.pages;
    for (let k = 0; k < count; k++) {
      const g = this.first + i;
      const bi = t.locate(g);
      const b = t.bytesOf[bi]!;
      const off = (g - t.firstPageOf[bi]!) * PAGE_SIZE;
      b[off]++;
      b[off + 1024]++;
      b[off + 2048]++;
      b[off + 3072]++;
      t.mark(g);
      if (++i === this.pages) i = 0;
    }
  }
}

/**
 * bwmem: fills each page with one 32-bit value whose four bytes are `x, x+64, x+128, x+192`
 * (mod 256) for `x = (sweep + page) & 255`: every byte of a page changes at every sweep, and
 * no page is ever a single repeated byte (which would go as a 1-byte zero/duplicate record).
 */
export class BwmemDirtier implements Dirtier {
  /** `regionPage0`: the region-relative page number of `first` (it seeds the values). */
  constructor(private readonly t: PageTarget, private readonly first: number, private readonly pages: number, private readonly regionPage0: number) {}

  write(unit: number, count: number): void {
    const t = this.t;
    let i = unit % this.pages;
    let sweep = Math.floor(unit / this.pages);
    for (let k = 0; k < count; k++) {
      const g = this.first + i;
      const bi = t.locate(g);
      const w = (g - t.firstPageOf[bi]!) * PAGE_WORDS;
      t.wordsOf[bi]!.fill(bwmemWord(sweep, this.regionPage0 + i), w, w + PAGE_WORDS);
      t.mark(g);
      if (++i === this.pages) {
        i = 0;
        sweep++;
      }
    }
  }
}

/** The 32-bit value bwmem stores in every word of region page `page` at sweep `sweep`. */
export function bwmemWord(sweep: number, page: number): number {
  const x = (sweep + page) & 255;
  return x | (((x + 64) & 255) << 8) | (((x + 128) & 255) << 16) | (((x + 192) & 255) << 24);
}

/**
 * zipf: per write, one uint32 decides hot or cold; a hot write draws a rank `k` in the hot set
 * with P(k) = log_{H+1}((k+2)/(k+1)) (`floor((H+1)^u) - 1`), whose page is `floor(k * n / H)`
 * (hot pages spread evenly over the range); a cold write picks any page uniformly. Then a
 * word offset and `wordsPerWrite` new words, all from the PRNG.
 */
export class ZipfDirtier implements Dirtier {
  private readonly hot: number;
  private readonly logHot: number;
  private readonly slots: number;

  constructor(
    private readonly t: PageTarget,
    private readonly first: number,
    private readonly pages: number,
    private readonly prng: Uint32Array,
    private readonly hotWrites: number,
    hotFraction: number,
    private readonly wordsPerWrite: number,
  ) {
    this.hot = Math.max(1, Math.min(pages, Math.round(pages * hotFraction)));
    this.logHot = Math.log(this.hot + 1);
    this.slots = PAGE_WORDS - wordsPerWrite + 1;
  }

  /** The range-relative page of hot rank `k`. */
  hotPage(k: number): number {
    return Math.floor((k * this.pages) / this.hot);
  }

  /** Hot-set size in pages. */
  get hotPages(): number {
    return this.hot;
  }

  write(_unit: number, count: number): void {
    const t = this.t;
    const st = this.prng;
    for (let k = 0; k < count; k++) {
      let i: number;
      if (prngNext(st) * TO_UNIT < this.hotWrites) {
        let rank = Math.floor(Math.exp(prngNext(st) * TO_UNIT * this.logHot)) - 1;
        if (rank >= this.hot) rank = this.hot - 1;
        i = this.hotPage(rank);
      } else {
        i = Math.floor(prngNext(st) * TO_UNIT * this.pages);
      }
      const g = this.first + i;
      const bi = t.locate(g);
      const words = t.wordsOf[bi]!;
      let w = (g - t.firstPageOf[bi]!) * PAGE_WORDS + Math.floor(prngNext(st) * TO_UNIT * this.slots);
      for (let j = 0; j < this.wordsPerWrite; j++) words[w++] = prngNext(st) | 0;
      t.mark(g);
    }
  }
}

/**
 * video: frame `f` goes to buffer `f mod frames`, page by page. A frame page is the static
 * background of that page, except in the moving band: `band` pages starting at page
 * `(f * band) mod framePages`, which get content unique to the frame. So rewriting a buffer
 * changes at most `2 * band` of its pages (where the band was, where it is now).
 */
export class VideoDirtier implements Dirtier {
  readonly band: number;

  constructor(
    private readonly t: PageTarget,
    private readonly first: number,
    readonly framePages: number,
    readonly frames: number,
    motion: number,
  ) {
    this.band = Math.max(1, Math.min(framePages, Math.round(framePages * motion)));
  }

  /** Whether page `row` of frame `frame` is in the moving band. */
  inBand(frame: number, row: number): boolean {
    const start = (frame * this.band) % this.framePages;
    return (row - start + this.framePages) % this.framePages < this.band;
  }

  write(unit: number, count: number): void {
    const t = this.t;
    const fp = this.framePages;
    let frame = Math.floor(unit / fp);
    let row = unit % fp;
    for (let k = 0; k < count; k++) {
      const g = this.first + (frame % this.frames) * fp + row;
      const bi = t.locate(g);
      const words = t.wordsOf[bi]!;
      const w0 = (g - t.firstPageOf[bi]!) * PAGE_WORDS;
      if (this.inBand(frame, row)) {
        const s = Math.imul(frame + 1, 0x85ebca6b) ^ Math.imul(row + 1, 0xc2b2ae35);
        for (let j = 0; j < PAGE_WORDS; j++) words[w0 + j] = Math.imul(s ^ j, 0x9e3779b1) ^ (s >>> 7);
      } else {
        const s = Math.imul(row + 1, 0x27d4eb2f);
        for (let j = 0; j < PAGE_WORDS; j++) words[w0 + j] = Math.imul(s + j, 0x165667b1) ^ 0x5bd1e995;
      }
      t.mark(g);
      if (++row === fp) {
        row = 0;
        frame++;
      }
    }
  }
}
