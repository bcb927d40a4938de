import { BwmemDirtier, VideoDirtier, XbzrleDocDirtier, ZipfDirtier } from './dirtiers.js';
import type { Dirtier, PageTarget } from './dirtiers.js';
import type { GuestMemory } from './guest-memory.js';
import { PAGE_SIZE, PAGE_WORDS } from './page.js';
import { PRNG_STATE_WORDS } from './prng.js';
import type { ResolvedRegion } from './region.js';
import { DEFAULT_WORKLOAD_OPTIONS, MIXED_TURN_WRITES, mixedParts, vcpuPageRange } from './workload-plan.js';
import type { ResolvedWorkloadOptions, WorkloadName } from './workload-plan.js';

/**
 * Where a vCPU is in its workload: everything a destination needs to continue it exactly.
 * `page` is the next region-relative page the vCPU will write (for zipf and mixed, whose next
 * page is drawn, just a page of its range); `prng` the generator state of random and zipf
 * (unused by the others); `workDone` the page writes so far, which also positions the
 * sequential dirtiers (xbzrle-doc, bwmem, video, the parts of mixed).
 */
export interface VcpuPosition {
  page: number;
  prng: readonly number[];
  workDone: number;
}

/** What one vCPU runs: the workload, the region, its share, and the vCPU count it was split for. */
export interface VcpuPlan {
  readonly workload: WorkloadName;
  readonly region: ResolvedRegion;
  readonly vcpus: number;
  readonly vcpu: number;
  /** The workload's knobs, resolved (default {@link DEFAULT_WORKLOAD_OPTIONS}). */
  readonly options?: ResolvedWorkloadOptions;
}

/**
 * One vCPU's workload loop, independent of threads: the worker calls {@link VcpuWorkload.step}
 * between control checks, tests call it directly for exact patterns. Writes go to the live
 * blocks; with a bitmap, each page is marked (`Atomics.or`) **after** it is written, so a
 * concurrent sync never loses a write. The loops touch typed arrays only: no allocation.
 */
export class VcpuWorkload implements PageTarget {
  /** The next region-relative page to write. */
  page: number;
  /** Pages written so far (kept across migrations through the device state). */
  workDone: number;
  /** The random workload's generator state (xoshiro128**). */
  readonly prng = new Uint32Array(PRNG_STATE_WORDS);
  /** This vCPU's region-relative pages `[rangeStart, rangeEnd)`. */
  readonly rangeStart: number;
  readonly rangeEnd: number;
  /** Page writes a second this vCPU makes at full speed (0 = as fast as it runs). */
  readonly writesPerSecond: number;
  private readonly regionFirst: number;
  readonly bytesOf: readonly Uint8Array[];
  readonly wordsOf: readonly Int32Array[];
  readonly firstPageOf: readonly number[];
  private blockIndex = 0;
  /** The parts of the evaluation workloads (one, or mixed's four); empty for the original ones. */
  private readonly parts: Dirtier[] = [];

  constructor(
    private readonly memory: GuestMemory,
    private readonly bitmap: Int32Array | null,
    readonly plan: VcpuPlan,
    start: VcpuPosition,
  ) {
    const options = plan.options ?? DEFAULT_WORKLOAD_OPTIONS;
    const r = vcpuPageRange(plan.workload, plan.vcpus, plan.vcpu, plan.region.pageCount, options);
    this.rangeStart = r.start;
    this.rangeEnd = r.end;
    this.regionFirst = plan.region.firstPage;
    this.bytesOf = memory.blocks.map((b) => b.bytes);
    this.wordsOf = memory.blocks.map((b) => new Int32Array(b.bytes.buffer, b.bytes.byteOffset, b.bytes.length >>> 2));
    this.firstPageOf = memory.blocks.map((b) => b.firstPage);
    this.page = start.page;
    this.workDone = start.workDone;
    for (let i = 0; i < PRNG_STATE_WORDS; i++) this.prng[i] = start.prng[i] ?? 0;
    let working = 0;
    for (let v = 0; v < plan.vcpus; v++) {
      const o = vcpuPageRange(plan.workload, plan.vcpus, v, plan.region.pageCount, options);
      if (o.end > o.start) working++;
    }
    this.writesPerSecond = options.rate > 0 && !this.idle ? options.rate / working : 0;
    if (!this.idle) this.buildParts(plan.workload, options);
  }

  private buildParts(workload: WorkloadName, o: ResolvedWorkloadOptions): void {
    const first = this.regionFirst;
    const part = (w: WorkloadName, start: number, end: number, inMixed: boolean): Dirtier | undefined => {
      const n = end - start;
      switch (w) {
        case 'xbzrle-doc':
          return new XbzrleDocDirtier(this, first + start, inMixed ? Math.min(n, o.bufferBytes / PAGE_SIZE) : n);
        case 'bwmem':
          return new BwmemDirtier(this, first + start, n, start);
        case 'zipf':
          return new ZipfDirtier(this, first + start, n, this.prng, o.hotWrites, o.hotFraction, o.wordsPerWrite);
        case 'video': {
          const frames = inMixed ? Math.min(o.frames, n) : o.frames;
          return new VideoDirtier(this, first + start, Math.floor(n / frames), frames, o.motion);
        }
        default:
          return undefined;
      }
    };
    if (workload === 'mixed') {
      for (const p of mixedParts(this.rangeStart, this.rangeEnd)) this.parts.push(part(p.workload, p.start, p.end, true)!);
    } else {
      const d = part(workload, this.rangeStart, this.rangeEnd, false);
      if (d) this.parts.push(d);
    }
  }

  /** Block index of global page `g` (PageTarget). */
  locate(g: number): number {
    return this.locateBlock(g);
  }

  /** Marks global page `g` in the explicit log, if any (PageTarget). */
  mark(g: number): void {
    const bm = this.bitmap;
    if (bm !== null) Atomics.or(bm, g >>> 5, 1 << (g & 31));
  }

  /** True when this vCPU has nothing to write (idle workload, or no share of the region). */
  get idle(): boolean {
    return this.rangeStart === this.rangeEnd;
  }

  /** A copy of the position, for the device state (allocates; called at pause only). */
  position(): VcpuPosition {
    return { page: this.page, prng: Array.from(this.prng), workDone: this.workDone };
  }

  /**
   * Writes up to `maxPages` pages, continuing from `page` and wrapping at the end of the share.
   * Returns the pages written (0 when idle).
   */
  step(maxPages: number): number {
    if (this.idle) return 0;
    if (this.parts.length > 0) return this.stepParts(maxPages);
    let left = maxPages;
    while (left > 0) {
      const g = this.regionFirst + this.page;
      const bi = this.locateBlock(g);
      const block = this.memory.blocks[bi]!;
      const run = Math.min(left, this.rangeEnd - this.page, block.firstPage + block.pageCount - g);
      const offsetBytes = (g - block.firstPage) * PAGE_SIZE;
      switch (this.plan.workload) {
        case 'stride':
          this.stride(this.bytesOf[bi]!, offsetBytes, g, run);
          break;
        case 'seed':
          this.seed(this.bytesOf[bi]!, offsetBytes, g, run);
          break;
        case 'random':
          this.random(this.wordsOf[bi]!, offsetBytes / 4, g, run);
          break;
        default:
          return 0;
      }
      left -= run;
      this.page += run;
      if (this.page === this.rangeEnd) this.page = this.rangeStart;
    }
    this.workDone += maxPages;
    return maxPages;
  }

  /**
   * The evaluation workloads: writes numbered from `workDone`; mixed turns to its next part
   * every {@link MIXED_TURN_WRITES} writes, and each part counts only its own writes.
   */
  private stepParts(maxPages: number): number {
    const parts = this.parts;
    if (parts.length === 1) {
      parts[0]!.write(this.workDone, maxPages);
    } else {
      let u = this.workDone;
      let left = maxPages;
      while (left > 0) {
        const turn = Math.floor(u / MIXED_TURN_WRITES);
        const within = u - turn * MIXED_TURN_WRITES;
        const n = Math.min(left, MIXED_TURN_WRITES - within);
        parts[turn % parts.length]!.write(Math.floor(turn / parts.length) * MIXED_TURN_WRITES + within, n);
        u += n;
        left -= n;
      }
    }
    this.workDone += maxPages;
    this.page = this.rangeStart + (this.workDone % (this.rangeEnd - this.rangeStart));
    return maxPages;
  }

  private locateBlock(globalPage: number): number {
    const b = this.memory.blocks[this.blockIndex]!;
    if (globalPage >= b.firstPage && globalPage < b.firstPage + b.pageCount) return this.blockIndex;
    this.blockIndex = this.memory.blockIndexOfPage(globalPage);
    return this.blockIndex;
  }

  /** Increment byte 0 of each page. */
  private stride(bytes: Uint8Array, offsetBytes: number, globalPage: number, run: number): void {
    const bm = this.bitmap;
    let off = offsetBytes;
    let g = globalPage;
    for (let j = 0; j < run; j++) {
      bytes[off]++;
      if (bm !== null) Atomics.or(bm, g >>> 5, 1 << (g & 31));
      off += PAGE_SIZE;
      g++;
    }
  }

  /** Page i of the region gets `i & 255` added at byte `(1234 + i) & 4095`. */
  private seed(bytes: Uint8Array, offsetBytes: number, globalPage: number, run: number): void {
    const bm = this.bitmap;
    let off = offsetBytes;
    let g = globalPage;
    let i = globalPage - this.regionFirst;
    for (let j = 0; j < run; j++) {
      bytes[off + ((1234 + i) & 4095)] += i & 255;
      if (bm !== null) Atomics.or(bm, g >>> 5, 1 << (g & 31));
      off += PAGE_SIZE;
      g++;
      i++;
    }
  }

  /** XOR every word of each page with xoshiro128** output (inlined `prngNext`). */
  private random(words: Int32Array, wordIndex: number, globalPage: number, run: number): void {
    const bm = this.bitmap;
    const st = this.prng;
    let s0 = st[0]! | 0;
    let s1 = st[1]! | 0;
    let s2 = st[2]! | 0;
    let s3 = st[3]! | 0;
    let w = wordIndex;
    let g = globalPage;
    for (let j = 0; j < run; j++) {
      for (let end = w + PAGE_WORDS; w < end; w++) {
        const m = Math.imul(s1, 5);
        words[w] = words[w]! ^ Math.imul((m << 7) | (m >>> 25), 9);
        const t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
      }
      if (bm !== null) Atomics.or(bm, g >>> 5, 1 << (g & 31));
      g++;
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
  }
}
