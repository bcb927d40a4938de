import type { GuestMemory } from './guest-memory.js';
import { PAGE_SIZE, PAGE_WORDS } from './page.js';
import { PRNG_STATE_WORDS } from './prng.js';
import type { ResolvedRegion } from './region.js';
import { vcpuPageRange } from './workload-plan.js';
import type { WorkloadName } from './workload-plan.js';

/**
 * Where a vCPU is in its workload: everything a destination needs to continue it exactly.
 * `page` is the next region-relative page the vCPU will write; `prng` the random workload's
 * generator state (unused by the others); `workDone` the pages written so far.
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
}

/**
 * One vCPU's workload loop, independent of threads: the worker calls {@link VcpuWorkload.step}
 * between control checks, tests call it directly for exact patterns. Writes go to the live
 * blocks; with a bitmap, each page is marked (`Atomics.or`) **after** it is written, so a
 * concurrent sync never loses a write. The loops touch typed arrays only: no allocation.
 */
export class VcpuWorkload {
  /** The next region-relative page to write. */
  page: number;
  /** Pages written so far (kept across migrations through the device state). */
  workDone: number;
  /** The random workload's generator state (xoshiro128**). */
  readonly prng = new Uint32Array(PRNG_STATE_WORDS);
  /** This vCPU's region-relative pages `[rangeStart, rangeEnd)`. */
  readonly rangeStart: number;
  readonly rangeEnd: number;
  private readonly regionFirst: number;
  private readonly bytesOf: readonly Uint8Array[];
  private readonly wordsOf: readonly Int32Array[];
  private blockIndex = 0;

  constructor(
    private readonly memory: GuestMemory,
    private readonly bitmap: Int32Array | null,
    readonly plan: VcpuPlan,
    start: VcpuPosition,
  ) {
    const r = vcpuPageRange(plan.workload, plan.vcpus, plan.vcpu, plan.region.pageCount);
    this.rangeStart = r.start;
    this.rangeEnd = r.end;
    this.regionFirst = plan.region.firstPage;
    this.bytesOf = memory.blocks.map((b) => b.bytes);
    this.wordsOf = memory.blocks.map((b) => new Int32Array(b.bytes.buffer, b.bytes.byteOffset, b.bytes.length >>> 2));
    this.page = start.page;
    this.workDone = start.workDone;
    for (let i = 0; i < PRNG_STATE_WORDS; i++) this.prng[i] = start.prng[i] ?? 0;
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
    let left = maxPages;
    while (left > 0) {
      const g = this.regionFirst + this.page;
      const bi = this.locate(g);
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
        case 'idle':
          return 0;
      }
      left -= run;
      this.page += run;
      if (this.page === this.rangeEnd) this.page = this.rangeStart;
    }
    this.workDone += maxPages;
    return maxPages;
  }

  private locate(globalPage: number): number {
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
