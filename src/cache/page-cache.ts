/**
 * The sender's page cache: the last-sent copy of hot pages, against which dirtied pages are
 * delta-encoded. Set-associative (XBRLE (2011)'s 2-way LRU by default; `ways: 1` is QEMU's
 * direct-mapped cache), keyed by global RAM address, set = page index mod sets.
 *
 * QEMU's hot-page rule: an entry used within the last `lifetime` generations (the caller
 * advances the generation at each dirty-log sync) is not evicted by a different address;
 * an insert that finds only such entries in its set is refused. All copies live in one
 * preallocated buffer; lookups and inserts allocate nothing but the returned view.
 */
import { LivemigError } from '../errors.js';
import { selectedKernel } from '../codec/index.js';

/** QEMU's CACHED_PAGE_LIFETIME: pages used in this sync or the previous one stay. */
export const DEFAULT_CACHE_LIFETIME = 2;

export interface PageCacheOptions {
  sizeBytes: number;
  pageSize?: number;
  ways?: number;
  lifetime?: number;
}

export interface PageCacheCounters {
  hits: number;
  misses: number;
  inserts: number;
  evictions: number;
  refusedInserts: number;
}

export class CacheSizeError extends LivemigError {
  constructor(message: string) {
    super('CACHE_TOO_SMALL', message);
  }
}

export class PageCache {
  readonly pageSize: number;
  readonly ways: number;
  readonly lifetime: number;
  private sets = 0;
  private pages: Uint8Array = new Uint8Array(0);
  private views: Uint8Array[] = [];
  private tags: Float64Array = new Float64Array(0);
  private ages: Uint32Array = new Uint32Array(0);
  private stamps: Float64Array = new Float64Array(0);
  private clock = 0;
  private gen = 0;
  private sizeBytesValue = 0;
  /** Kernel-memory offset of `pages`, or -1. */
  private base = -1;
  readonly counters: PageCacheCounters = { hits: 0, misses: 0, inserts: 0, evictions: 0, refusedInserts: 0 };

  constructor(options: PageCacheOptions) {
    const { pageSize = 4096, ways = 2, lifetime = DEFAULT_CACHE_LIFETIME } = options;
    if (!Number.isSafeInteger(pageSize) || pageSize <= 0) throw new CacheSizeError(`page size must be a positive whole number of bytes, got ${pageSize}`);
    if (!Number.isSafeInteger(ways) || ways < 1 || ways > 64) throw new CacheSizeError(`cache ways must be a whole number from 1 to 64, got ${ways}`);
    if (!Number.isSafeInteger(lifetime) || lifetime < 0) throw new CacheSizeError(`cache lifetime must be a whole number of generations, got ${lifetime}`);
    this.pageSize = pageSize;
    this.ways = ways;
    this.lifetime = lifetime;
    this.allocate(options.sizeBytes);
  }

  /** Number of sets (a power of two). */
  get setCount(): number {
    return this.sets;
  }

  /** Pages the cache can hold. */
  get capacityPages(): number {
    return this.sets * this.ways;
  }

  /** Bytes of page copies held (sets × ways × pageSize), at most the requested size. */
  get sizeBytes(): number {
    return this.sizeBytesValue;
  }

  get generation(): number {
    return this.gen;
  }

  /** Entries currently holding a page. */
  get entryCount(): number {
    let n = 0;
    for (let i = 0; i < this.tags.length; i++) if (this.tags[i] !== -1) n++;
    return n;
  }

  /** Advances the generation; call once per dirty-log sync. */
  nextGeneration(): number {
    return ++this.gen;
  }

  /** The cached copy of the page at `addr` (refreshing its age), or undefined on a miss. */
  lookup(addr: number): Uint8Array | undefined {
    const slot = this.find(addr);
    if (slot < 0) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    this.ages[slot] = this.gen;
    this.stamps[slot] = ++this.clock;
    return this.views[slot];
  }

  /**
   * lookup() by slot: the slot index of `addr` (refreshing its age), or -1 on a miss. With
   * `slotOffset` it lets the SIMD kernel work on kernel-memory offsets without view look-ups.
   */
  lookupSlot(addr: number): number {
    const slot = this.find(addr);
    if (slot < 0) {
      this.counters.misses++;
      return -1;
    }
    this.counters.hits++;
    this.ages[slot] = this.gen;
    this.stamps[slot] = ++this.clock;
    return slot;
  }

  /** The cached copy held by a slot from lookupSlot. */
  slotView(slot: number): Uint8Array {
    return this.views[slot]!;
  }

  /** Kernel-memory offset of a slot's copy, or -1 when the cache is not in kernel memory. */
  slotOffset(slot: number): number {
    return this.base < 0 ? -1 : this.base + slot * this.pageSize;
  }

  /** The slot index of `addr`, or -1; does not touch ages or counters. */
  peekSlot(addr: number): number {
    return this.find(addr);
  }

  /** True when `addr` is cached; does not touch ages or counters. */
  has(addr: number): boolean {
    return this.find(addr) >= 0;
  }

  /**
   * Copies `page` into the cache for `addr` and returns the cached copy, or undefined when
   * every way of the set holds a different page used within the lifetime (refused).
   */
  insert(addr: number, page: Uint8Array): Uint8Array | undefined {
    this.checkPage(page);
    let slot = this.find(addr);
    if (slot < 0) {
      slot = this.victim(addr);
      if (slot < 0) {
        this.counters.refusedInserts++;
        return undefined;
      }
      if (this.tags[slot] !== -1) this.counters.evictions++;
      this.tags[slot] = addr;
    }
    this.counters.inserts++;
    const view = this.views[slot]!;
    view.set(page);
    this.ages[slot] = this.gen;
    this.stamps[slot] = ++this.clock;
    return view;
  }

  /** Overwrites the cached copy of `addr`; false when `addr` is not cached. */
  update(addr: number, page: Uint8Array): boolean {
    this.checkPage(page);
    const slot = this.find(addr);
    if (slot < 0) return false;
    this.views[slot]!.set(page);
    this.ages[slot] = this.gen;
    this.stamps[slot] = ++this.clock;
    return true;
  }

  /** Fills the cached copy of `addr` with one byte (a zero or duplicate page was sent). */
  fill(addr: number, byte: number): boolean {
    const slot = this.find(addr);
    if (slot < 0) return false;
    this.views[slot]!.fill(byte);
    this.ages[slot] = this.gen;
    this.stamps[slot] = ++this.clock;
    return true;
  }

  /** Drops every entry (counters are kept). */
  clear(): void {
    this.tags.fill(-1);
    this.ages.fill(0);
    this.stamps.fill(0);
  }

  /**
   * Changes the size; entries that still fit are kept (most recently used first within a
   * set). Throws CacheSizeError when the new size is too small, leaving the cache as it was.
   */
  resize(sizeBytes: number): void {
    const old = { pages: this.pages, views: this.views, tags: this.tags, ages: this.ages, stamps: this.stamps, sets: this.sets, size: this.sizeBytesValue };
    this.geometry(sizeBytes); // throws before anything changes
    this.allocate(sizeBytes);
    const order: number[] = [];
    for (let i = 0; i < old.tags.length; i++) if (old.tags[i] !== -1) order.push(i);
    order.sort((a, b) => old.stamps[a]! - old.stamps[b]!); // oldest first, so the newest win
    for (const i of order) {
      const addr = old.tags[i]!;
      const base = this.setOf(addr) * this.ways;
      let slot = -1;
      let oldest = Infinity;
      for (let w = 0; w < this.ways; w++) {
        const s = base + w;
        if (this.tags[s] === -1) {
          slot = s;
          break;
        }
        if (this.stamps[s]! < oldest) {
          oldest = this.stamps[s]!;
          slot = s;
        }
      }
      this.tags[slot] = addr;
      this.views[slot]!.set(old.views[i]!);
      this.ages[slot] = old.ages[i]!;
      this.stamps[slot] = old.stamps[i]!;
    }
    if (old.pages.length > 0) selectedKernel().freeBuffer(old.pages);
  }

  /** Returns the page buffer to the kernel; the cache is unusable afterwards. */
  dispose(): void {
    if (this.pages.length > 0) selectedKernel().freeBuffer(this.pages);
    this.pages = new Uint8Array(0);
    this.views = [];
    this.tags = new Float64Array(0);
    this.sets = 0;
  }

  private geometry(sizeBytes: number): number {
    if (typeof sizeBytes !== 'number' || !Number.isSafeInteger(sizeBytes) || sizeBytes < 0) {
      throw new CacheSizeError(`cache size must be a whole number of bytes, got ${String(sizeBytes)}`);
    }
    const setBytes = this.ways * this.pageSize;
    if (sizeBytes < setBytes) {
      throw new CacheSizeError(`cache size ${sizeBytes} bytes is too small for one set of ${this.ways} way(s) of ${this.pageSize}-byte pages (${setBytes} bytes)`);
    }
    let sets = 1;
    while (sets * 2 * setBytes <= sizeBytes) sets *= 2;
    return sets;
  }

  private allocate(sizeBytes: number): void {
    const sets = this.geometry(sizeBytes);
    const slots = sets * this.ways;
    this.sets = sets;
    this.sizeBytesValue = slots * this.pageSize;
    this.pages = selectedKernel().allocBuffer(this.sizeBytesValue, false); // slots are read only after an insert
    this.base = selectedKernel().arenaOffset(this.pages);
    this.views = new Array<Uint8Array>(slots);
    for (let s = 0; s < slots; s++) this.views[s] = this.pages.subarray(s * this.pageSize, (s + 1) * this.pageSize);
    this.tags = new Float64Array(slots).fill(-1);
    this.ages = new Uint32Array(slots);
    this.stamps = new Float64Array(slots);
  }

  private setOf(addr: number): number {
    return Math.floor(addr / this.pageSize) % this.sets;
  }

  private find(addr: number): number {
    const base = this.setOf(addr) * this.ways;
    for (let w = 0; w < this.ways; w++) if (this.tags[base + w] === addr) return base + w;
    return -1;
  }

  /** An empty way, else the least recently used way that is past its lifetime, else -1. */
  private victim(addr: number): number {
    const base = this.setOf(addr) * this.ways;
    let best = -1;
    let oldest = Infinity;
    for (let w = 0; w < this.ways; w++) {
      const s = base + w;
      if (this.tags[s] === -1) return s;
      if (this.ages[s]! + this.lifetime > this.gen) continue; // fresh: QEMU's hot-page rule
      if (this.stamps[s]! < oldest) {
        oldest = this.stamps[s]!;
        best = s;
      }
    }
    return best;
  }

  private checkPage(page: Uint8Array): void {
    if (page.length !== this.pageSize) throw new CacheSizeError(`page is ${page.length} bytes, the cache holds ${this.pageSize}-byte pages`);
  }
}
