/**
 * The source's RAM engine: the migration bitmap, the walk over dirty pages, and the choice
 * of encoding for each page (QEMU's ram_save_target_page order):
 *   1. a page whose bytes are all equal goes as a ZERO record with its fill byte;
 *   2. with delta compression on and past the first full pass, a cached page goes as an
 *      XBZRLE (or XBRLE) delta, nothing when unchanged, whole on overflow;
 *   3. anything else goes whole.
 * The cache invariant: the cached copy of a page always equals what the destination holds.
 * Misses are inserted and sent whole, deltas and overflows update the cache, zero pages
 * overwrite it, the last stage (guest stopped) writes nothing to it, and every page is
 * encoded from a private snapshot taken after its dirty bit was cleared, never from live RAM.
 */
import { PageCache } from '../cache/index.js';
import { inPlaceFillTest, selectedKernel, XBRLE_BUDGET_BYTES } from '../codec/index.js';
import type { DeltaKernel, InPlaceFillTest } from '../codec/index.js';
import type { DirtyLog, GuestMemory, RamBlock } from '../guest/index.js';
import type { DeltaCodec } from './parameters.js';
import type { MigrationCounters } from './stats.js';

const PAGE = 4096;
/** Contiguous dirty pages snapshotted with one copy. */
const BATCH_PAGES = 64;
/** Most bytes a page's record takes without its block name: an XBZRLE header (8 + 3) and a page. */
const MAX_RECORD_BODY = PAGE + 11;
/** A page sent whole: its record header (be64 offset and flags) and the page. */
const WHOLE_PAGE_WIRE_BYTES = PAGE + 8;
/** A ZERO record: its header (be64 offset and flags) and the fill byte. */
const ZERO_RECORD_BYTES = 8 + 1;
/** An XBZRLE record around its delta: header (8), encoding byte (1), be16 length (2). */
const XBZRLE_RECORD_OVERHEAD = 11;
/** Cached dirty pages encoded at most to price the rest (see priceRemaining). */
const PRICE_SAMPLE_PAGES = 128;
/** Pages over which the wire cost of a dirty page is measured. */
const COST_WINDOW_PAGES = 256;

/** Where RAM records go (the stream layer's RAM record writer). Each call returns bytes written. */
export interface RamRecordSink {
  zero(idstr: string, offsetInBlock: number, fill: number): number;
  page(idstr: string, offsetInBlock: number, bytes: Uint8Array): number;
  pageAt(idstr: string, offsetInBlock: number, mem: Uint8Array, at: number): number;
  xbzrle(idstr: string, offsetInBlock: number, encoding: number, delta: Uint8Array): number;
  /** `xbzrle` for the `len` bytes at `src[at]`, with no view of them made (no allocation per page). */
  xbzrleAt(idstr: string, offsetInBlock: number, encoding: number, src: Uint8Array, at: number, len: number): number;
}

export interface RamSenderOptions {
  /** Delta codec, or null for none. */
  delta: DeltaCodec | null;
  cacheSizeBytes: number;
  cacheWays: number;
}

/**
 * False only for a page that is surely not one byte repeated (its first and last bytes differ
 * from its first): a cheap look at guest RAM before paying for a snapshot and a full test.
 */
function mayBeFilled(mem: Uint8Array, at: number): boolean {
  const b = mem[at]!;
  return mem[at + 1] === b && mem[at + 2] === b && mem[at + 3] === b && mem[at + PAGE - 2] === b && mem[at + PAGE - 1] === b;
}

export const ENCODING_XBZRLE = 1;
/** livemig's extension: XBRLE (the 2011 patch's codec) travels in an XBZRLE-flagged record with encoding byte 2. */
export const ENCODING_XBRLE = 2;

export class RamSender {
  readonly bitmap: Uint32Array;
  /** Dirty pages not yet sent. */
  remaining = 0;
  /** True once the walk has wrapped past the last block: delta compression starts then. */
  deltaStarted = false;
  readonly cache: PageCache | undefined;
  private cursor = 0;
  private deltaOff = false;
  private readonly kernel: DeltaKernel;
  /** Per block, the SIMD fill test on the block's own memory (undefined: test copies). */
  private readonly fillTests: (InPlaceFillTest | undefined)[];
  private readonly snapshot: Uint8Array;
  private readonly snapViews: Uint8Array[];
  private readonly encoded: Uint8Array;
  private readonly encodedView: Uint8Array;
  /** Kernel-memory offsets of the snapshot and output buffers (-1 without the SIMD kernel). */
  private readonly snapshotBase: number;
  private readonly encodedBase: number;
  /** Wire bytes a pending page costs, by the fates found at the last pricing (0: not priced). */
  private pendingPrice = 0;
  /** The mean delta of the cached pages the last pricing encoded (0: none). */
  private cachedPrice = 0;
  private costBytes = 0;
  private costPages = 0;
  /** Set when the walk first wraps: from then on every page sent was dirtied again. */
  private firstPassDone = false;

  constructor(
    readonly memory: GuestMemory,
    readonly dirtyLog: DirtyLog,
    readonly options: RamSenderOptions,
    readonly counters: MigrationCounters,
  ) {
    this.kernel = selectedKernel();
    this.fillTests = memory.blocks.map((b) => (b.wasmMemory === undefined ? undefined : inPlaceFillTest(b.wasmMemory)));
    this.bitmap = new Uint32Array((memory.pageCount + 31) >>> 5);
    this.snapshot = this.kernel.allocBuffer(BATCH_PAGES * PAGE);
    this.snapViews = [];
    for (let i = 0; i < BATCH_PAGES; i++) this.snapViews.push(this.snapshot.subarray(i * PAGE, (i + 1) * PAGE));
    this.encoded = this.kernel.allocBuffer(PAGE);
    this.encodedView = options.delta === 'xbrle' ? this.encoded.subarray(0, XBRLE_BUDGET_BYTES) : this.encoded;
    this.cache = options.delta ? new PageCache({ sizeBytes: options.cacheSizeBytes, ways: options.cacheWays }) : undefined;
    this.snapshotBase = this.kernel.arenaOffset(this.snapshot);
    this.encodedBase = this.kernel.arenaOffset(this.encoded);
  }

  /** Setup: every page is dirty (nothing sent yet), and the first sync empties the guest's log. */
  setup(): void {
    const n = this.memory.pageCount;
    this.bitmap.fill(0xffffffff);
    const r = n & 31;
    if (r !== 0) this.bitmap[this.bitmap.length - 1] = (1 << r) - 1;
    this.remaining = n;
    this.dirtyLog.reset();
    this.sync();
  }

  /** Milliseconds of the last sync's own work (a sliced sync's turns between slices excluded). */
  lastSyncWorkMs = 0;

  /** Merges the guest's dirty log into the bitmap: a new pass. Returns pages newly dirty. */
  sync(): number {
    const t = performance.now();
    const added = this.dirtyLog.sync(this.bitmap);
    this.lastSyncWorkMs = performance.now() - t;
    return this.synced(added);
  }

  /**
   * {@link sync} in slices of `slicePages` pages with `between()` awaited after each, when the
   * log can scan a range (a scanning log over a guest that runs on this thread); else a plain sync.
   */
  async syncSliced(slicePages: number, between: () => Promise<void>): Promise<number> {
    const log = this.dirtyLog;
    if (log.syncRange === undefined) return this.sync();
    let added = 0;
    let work = 0;
    const n = this.memory.pageCount;
    for (let first = 0; first < n; first += slicePages) {
      const t = performance.now();
      added += log.syncRange(this.bitmap, first, Math.min(n, first + slicePages));
      work += performance.now() - t;
      if (first + slicePages < n) await between();
    }
    this.lastSyncWorkMs = work;
    return this.synced(added);
  }

  private synced(added: number): number {
    this.remaining += added;
    this.counters.dirtyPages += added;
    this.counters.dirtySyncCount++;
    this.cache?.nextGeneration();
    return added;
  }

  /** Wire bytes a dirty page has cost recently (the mean over the last re-sent pages). */
  get bytesPerDirtyPage(): number {
    return this.counters.bytesPerDirtyPage;
  }

  /**
   * Wire bytes a dirty page will cost, as {@link priceRemaining} found at the last sync (the
   * recent mean before any pricing): the price of what is left between two syncs.
   */
  get bytesPerPendingPage(): number {
    return this.pendingPrice > 0 ? this.pendingPrice : this.counters.bytesPerDirtyPage;
  }

  /**
   * Wire bytes a page sent before and dirtied again will cost: the mean delta of the cached
   * dirty pages {@link priceRemaining} encoded, else {@link bytesPerPendingPage}.
   */
  get bytesPerRedirtiedPage(): number {
    return this.cachedPrice > 0 ? this.cachedPrice : this.bytesPerPendingPage;
  }

  /**
   * What the dirty pages would put on the wire if the stop-and-copy sent them now, each by its
   * own fate: a page of one repeated byte as its ZERO record; with delta compression running,
   * a page the cache holds as the delta it encodes to now (measured on an evenly spaced sample
   * of at most {@link PRICE_SAMPLE_PAGES} of them, encoded against their cached copies: a page
   * whose writes turned dense since its last delta overflows, and is priced whole); every
   * other page whole. Sets {@link bytesPerPendingPage}. Reads each dirty page's first and last
   * bytes and the cache's tags, and encodes the sample: call it once a sync, not per batch.
   */
  priceRemaining(): number {
    const memory = this.memory;
    const bitmap = this.bitmap;
    // pages cached in a first pass are sent after the walk wraps, as deltas
    const cache = this.cache !== undefined && this.caching ? this.cache : undefined;
    const dirty = this.remaining;
    if (dirty === 0) {
      this.pendingPrice = 0;
      return 0;
    }
    // every k-th cached page is encoded, the first one included
    const every = Math.max(1, Math.ceil(dirty / PRICE_SAMPLE_PAGES));
    let zeros = 0;
    let hits = 0;
    let sampled = 0;
    let sampleBytes = 0;
    let seen = 0;
    for (let w = 0; w < bitmap.length; w++) {
      let word = bitmap[w]!;
      while (word !== 0) {
        const bit = 31 - Math.clz32(word & -word);
        word &= word - 1;
        const p = (w << 5) + bit;
        seen++;
        const bi = memory.blockIndexOfPage(p);
        const block = memory.blocks[bi]!;
        const at = (p - block.firstPage) * PAGE;
        const mem = block.bytes;
        if (mayBeFilled(mem, at) && this.isFilledPage(bi, mem, at)) {
          zeros++;
          continue;
        }
        if (cache === undefined) continue;
        const slot = cache.peekSlot(p * PAGE);
        if (slot < 0) continue;
        if (hits++ % every === 0) {
          sampled++;
          sampleBytes += this.deltaCost(cache, slot, mem, at);
        }
      }
    }
    const whole = seen - zeros - hits;
    const bytes = zeros * ZERO_RECORD_BYTES + whole * WHOLE_PAGE_WIRE_BYTES + (sampled > 0 ? (hits * sampleBytes) / sampled : 0);
    this.pendingPrice = seen > 0 ? bytes / seen : 0;
    this.cachedPrice = sampled > 0 ? sampleBytes / sampled : 0;
    return bytes;
  }

  /** True when the page at `at` of block `bi` is one byte repeated (in place where the kernel can). */
  private isFilledPage(bi: number, mem: Uint8Array, at: number): boolean {
    const test = this.fillTests[bi];
    if (test !== undefined) return test(mem.byteOffset + at, PAGE, mem[at]!) === 1;
    const snap = this.snapViews[0]!;
    snap.set(mem.subarray(at, at + PAGE));
    return this.kernel.dupPageByte(snap) >= 0;
  }

  /** Wire bytes of the page at `at` sent now against the cache's copy in `slot` (nothing cached changes). */
  private deltaCost(cache: PageCache, slot: number, mem: Uint8Array, at: number): number {
    const snap = this.snapViews[0]!;
    snap.set(mem.subarray(at, at + PAGE));
    const kernel = this.kernel;
    const xbrle = this.options.delta === 'xbrle';
    const slotAt = cache.slotOffset(slot);
    const len =
      slotAt >= 0 && this.snapshotBase >= 0 && this.encodedBase >= 0 && kernel.xbzrleEncodeAt && kernel.xbrleEncodeAt
        ? xbrle
          ? kernel.xbrleEncodeAt(slotAt, this.snapshotBase, PAGE, this.encodedBase, this.encodedView.length)
          : kernel.xbzrleEncodeAt(slotAt, this.snapshotBase, PAGE, this.encodedBase, this.encodedView.length)
        : xbrle
          ? kernel.xbrleEncode(cache.slotView(slot), snap, this.encodedView)
          : kernel.xbzrleEncode(cache.slotView(slot), snap, this.encodedView);
    return len === 0 ? 0 : len < 0 ? WHOLE_PAGE_WIRE_BYTES : len + XBZRLE_RECORD_OVERHEAD;
  }

  /**
   * Sends dirty pages in address order from where the last call stopped, until none is left,
   * `stop()` is true (checked between batches) or `maxBytes` are written: a batch is cut so
   * that the call ends at most one record past `maxBytes` (the rate limiter's allowance).
   * `lastStage`: the guest is stopped. Returns the pages handled.
   */
  sendPages(sink: RamRecordSink, stop: () => boolean, lastStage: boolean, maxBytes = Infinity): number {
    const memory = this.memory;
    const bitmap = this.bitmap;
    const total = memory.pageCount;
    let handled = 0;
    let written = 0;
    while (this.remaining > 0 && written < maxBytes && !stop()) {
      let p = this.findDirty(this.cursor);
      if (p < 0) {
        // wrapped past the last block: the first full pass is over
        this.deltaStarted = this.options.delta !== null && !this.deltaOff;
        this.firstPassDone = true;
        p = this.findDirty(0);
        if (p < 0) {
          this.remaining = 0;
          break;
        }
      }
      const blockIndex = memory.blockIndexOfPage(p);
      const block = memory.blocks[blockIndex]!;
      const blockEnd = block.firstPage + block.pageCount;
      // a run of contiguous dirty pages in this block, cleared before it is copied; with every
      // record at most a page and its framing, all but the run's last record fit in maxBytes
      const runMax = Math.min(BATCH_PAGES, Math.ceil((maxBytes - written) / MAX_RECORD_BODY));
      let n = 0;
      while (n < runMax && p + n < blockEnd && (bitmap[(p + n) >>> 5]! & (1 << ((p + n) & 31))) !== 0) {
        bitmap[(p + n) >>> 5]! &= ~(1 << ((p + n) & 31));
        n++;
      }
      this.remaining -= n;
      const off = (p - block.firstPage) * PAGE;
      let bytes = 0;
      // Nothing keeps these pages (no cache this pass, a log that needs no copy): send them
      // straight from guest RAM, without the snapshot copy
      const uncopied = (this.cache === undefined || !this.caching) && !this.dirtyLog.usesSentBytes;
      const fillTest = this.fillTests[blockIndex];
      if (uncopied && fillTest !== undefined) {
        // the block is a WebAssembly.Memory: the SIMD fill test runs on the page in place (a
        // page written meanwhile is dirty again, and goes again next pass); a page whose first
        // and last bytes differ is not even handed to it
        const mem = block.bytes;
        const base = mem.byteOffset;
        for (let k = 0; k < n; k++) {
          const at = off + k * PAGE;
          const b = mem[at]!;
          if (mayBeFilled(mem, at) && fillTest(base + at, PAGE, b) === 1) {
            this.counters.pagesSent++;
            bytes += this.filled(sink, block, at, b);
          } else {
            bytes += this.wholeFromRam(sink, block, at);
          }
        }
      } else if (uncopied && !mayBeFilled(block.bytes, off)) {
        // Without the in-place test, and the run does not start with a fill: a page that cannot
        // be a fill goes straight from guest RAM (runs of fills keep the snapshot below).
        const mem = block.bytes;
        for (let k = 0; k < n; k++) {
          const at = off + k * PAGE;
          if (mayBeFilled(mem, at)) {
            this.snapViews[0]!.set(mem.subarray(at, at + PAGE));
            bytes += this.sendPage(sink, block, p + k, at, 0, lastStage);
          } else {
            bytes += this.wholeFromRam(sink, block, at);
          }
        }
      } else {
        this.snapshot.set(block.bytes.subarray(off, off + n * PAGE));
        for (let k = 0; k < n; k++) bytes += this.sendPage(sink, block, p + k, off + k * PAGE, k, lastStage);
      }
      handled += n;
      written += bytes;
      this.cursor = p + n >= total ? total : p + n;
      this.noteCost(bytes, n);
    }
    return handled;
  }

  /**
   * Stops delta compression for the rest of this migration (auto-xbzrle): every later page
   * goes zero or whole. Safe at any point: the destination decodes deltas against its own
   * copy of a page, not against a cache.
   */
  disableDelta(): void {
    this.deltaOff = true;
    this.deltaStarted = false;
  }

  /** True once {@link RamSender.disableDelta} was called. */
  get deltaDisabled(): boolean {
    return this.deltaOff;
  }

  /** Frees the cache and buffers. */
  dispose(): void {
    this.cache?.dispose();
    this.kernel.freeBuffer(this.snapshot);
    this.kernel.freeBuffer(this.encoded);
  }

  private sendPage(sink: RamRecordSink, block: RamBlock, globalPage: number, offset: number, k: number, lastStage: boolean): number {
    const c = this.counters;
    const kernel = this.kernel;
    const cache = this.cache;
    const snap = this.snapViews[k]!;
    const snapAt = this.snapshotBase < 0 ? -1 : this.snapshotBase + k * PAGE;
    const addr = globalPage * PAGE;
    // the last stage ends the migration: a later one resets the log, so nothing needs noting
    if (!lastStage) this.dirtyLog.noteSent(globalPage, snap);
    c.pagesSent++;
    // offsets into kernel memory where possible: no per-call view look-ups
    const fill = snapAt >= 0 && kernel.isFilledAt ? (kernel.isFilledAt(snapAt, PAGE, snap[0]!) ? snap[0]! : -1) : kernel.dupPageByte(snap);
    if (fill >= 0) {
      const b = this.filled(sink, block, offset, fill);
      if (cache && this.caching && !lastStage) cache.insert(addr, snap); // refused is fine: no stale copy of this address survives
      return b;
    }
    // a first send (the walk has not wrapped): nothing cached to encode against yet
    if (cache && this.cachingFirstPass && !lastStage) cache.insert(addr, snap);
    if (cache && this.deltaStarted) {
      const slot = cache.lookupSlot(addr);
      if (slot < 0) {
        c.cacheMiss++;
        if (!lastStage) cache.insert(addr, snap);
        return this.normal(sink, block, offset, snap);
      }
      c.xbzrlePages++;
      const cached = cache.slotView(slot);
      const xbrle = this.options.delta === 'xbrle';
      const slotAt = cache.slotOffset(slot);
      const outLen = this.encodedView.length;
      const len =
        slotAt >= 0 && snapAt >= 0 && this.encodedBase >= 0 && kernel.xbzrleEncodeAt && kernel.xbrleEncodeAt
          ? xbrle
            ? kernel.xbrleEncodeAt(slotAt, snapAt, PAGE, this.encodedBase, outLen)
            : kernel.xbzrleEncodeAt(slotAt, snapAt, PAGE, this.encodedBase, outLen)
          : xbrle
            ? kernel.xbrleEncode(cached, snap, this.encodedView)
            : kernel.xbzrleEncode(cached, snap, this.encodedView);
      if (len === 0) {
        c.skipped++;
        return 0;
      }
      if (!lastStage) cached.set(snap);
      if (len < 0) {
        c.overflow++;
        c.xbzrleBytes += PAGE;
        return this.normal(sink, block, offset, snap);
      }
      const b = sink.xbzrleAt(block.idstr, offset, xbrle ? ENCODING_XBRLE : ENCODING_XBZRLE, this.encoded, 0, len);
      c.xbzrleRecords++;
      c.xbzrleRecordBytes += b;
      c.xbzrleBytes += b - 8;
      return b;
    }
    return this.normal(sink, block, offset, snap);
  }

  /**
   * Before the walk first wraps, with a cache that holds every page of RAM: pages are cached as
   * they go, so that a page dirtied again after its first send goes as a delta once the walk
   * wraps (QEMU caches only from the second pass on, where a cache smaller than RAM would
   * churn with pages that are never written again).
   */
  private get cachingFirstPass(): boolean {
    return this.cache !== undefined && !this.deltaStarted && !this.deltaOff && this.cache.capacityPages >= this.memory.pageCount;
  }

  /** Pages sent now go into the cache: delta compression has started, or the first pass caches. */
  private get caching(): boolean {
    return this.deltaStarted || this.cachingFirstPass;
  }

  /** A ZERO record for a page whose every byte is `fill`, counted as a duplicate page. */
  private filled(sink: RamRecordSink, block: RamBlock, offset: number, fill: number): number {
    const b = sink.zero(block.idstr, offset, fill);
    this.counters.duplicate++;
    this.counters.duplicateBytes += b;
    return b;
  }

  /** A whole page sent straight from guest RAM (nothing keeps a copy of it). */
  private wholeFromRam(sink: RamRecordSink, block: RamBlock, offset: number): number {
    this.counters.pagesSent++;
    this.counters.normal++;
    this.counters.normalBytes += PAGE;
    return sink.pageAt(block.idstr, offset, block.bytes, offset);
  }

  private normal(sink: RamRecordSink, block: RamBlock, offset: number, snap: Uint8Array): number {
    const b = sink.page(block.idstr, offset, snap);
    this.counters.normal++;
    this.counters.normalBytes += PAGE;
    return b;
  }

  /**
   * Measures what a dirty page costs on the wire, from the second pass on only: the first pass
   * also sends RAM the guest never wrote (often zero pages of 9 bytes), which says nothing of
   * what a re-dirtied page will cost; until then the estimate stays a whole page, as QEMU's.
   */
  private noteCost(bytes: number, pages: number): void {
    if (!this.firstPassDone) return;
    this.costBytes += bytes;
    this.costPages += pages;
    if (this.costPages >= COST_WINDOW_PAGES) {
      this.counters.bytesPerDirtyPage = this.costBytes / this.costPages;
      this.costBytes = 0;
      this.costPages = 0;
    }
  }

  /** Flushes a partial cost window (e.g. after a pass with few dirty pages). */
  settleCost(): void {
    if (this.costPages > 0 && this.costPages >= 16) {
      this.counters.bytesPerDirtyPage = this.costBytes / this.costPages;
      this.costBytes = 0;
      this.costPages = 0;
    }
  }

  /** First dirty page at or after `from`, or -1. */
  private findDirty(from: number): number {
    const bitmap = this.bitmap;
    const total = this.memory.pageCount;
    if (from >= total) return -1;
    let w = from >>> 5;
    let word = bitmap[w]! & (0xffffffff << (from & 31));
    while (word === 0) {
      if (++w >= bitmap.length) return -1;
      word = bitmap[w]!;
    }
    const p = (w << 5) + (31 - Math.clz32(word & -word));
    return p < total ? p : -1;
  }
}
