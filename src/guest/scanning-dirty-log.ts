import { InvalidArgumentError } from '../errors.js';
import { checkBitmap } from './dirty-log.js';
import type { DirtyLog } from './dirty-log.js';
import type { GuestMemory } from './guest-memory.js';
import { PAGE_SHIFT, PAGE_SIZE } from './page.js';
import { pageHashInto } from './page-hash.js';

/**
 * How the scanning log decides that a page changed:
 * - `hash`: a 64-bit fingerprint per page of what was sent ({@link pageHashInto}); costs 8 bytes
 *   a page; a one-word change is always seen, wider ones miss with probability ~2^-64.
 * - `compare`: a private copy of what was sent, compared with `memcmp`; exact, faster per byte,
 *   but costs as much memory as the guest's RAM.
 */
export type ScanMethod = 'hash' | 'compare';

/** Options of {@link ScanningDirtyLog}. */
export interface ScanningDirtyLogOptions {
  /** Default `hash`. */
  method?: ScanMethod;
}

/**
 * The scanning dirty log, for memory nobody can instrument (any `Uint8Array`, a
 * `WebAssembly.Memory`): a page is dirty when its content differs from what was last sent for
 * it (recorded by {@link ScanningDirtyLog.noteSent}), or when nothing was sent for it yet.
 *
 * Unlike the explicit log, a page stays dirty until the migration records its current content
 * with `noteSent`: the destination does not hold it yet. Pages already set in `into` are not
 * scanned again (they cannot add a bit), so a sync costs a scan of the pages believed clean.
 * Every page sent, whatever its encoding (zero, delta, normal), must be noted with the bytes the
 * receiver now holds; note the private snapshot that was encoded, not live memory.
 *
 * The price is reading memory: `lastSyncMs` and `bytesScanned` report it.
 */
export class ScanningDirtyLog implements DirtyLog {
  readonly kind = 'scan' as const;
  /** The comparison in use. */
  readonly method: ScanMethod;
  private readonly sent: Uint8Array;
  private readonly hashes: Int32Array;
  private readonly words: Int32Array[];
  private readonly live: Buffer[];
  private readonly shadow: readonly Buffer[];
  private readonly scratch = new Uint8Array(PAGE_SIZE);
  private readonly scratchWords = new Int32Array(this.scratch.buffer);
  private readonly current = new Int32Array(2);
  private syncMs = 0;
  private scanned = 0;
  private syncs = 0;

  /**
   * Starts with every page dirty: nothing has been sent yet.
   * @throws InvalidArgumentError for an unknown method.
   */
  constructor(private readonly memory: GuestMemory, options: ScanningDirtyLogOptions = {}) {
    const method = options.method ?? 'hash';
    if (method !== 'hash' && method !== 'compare') {
      throw new InvalidArgumentError(`scan method must be 'hash' or 'compare', got ${JSON.stringify(method)}`);
    }
    this.method = method;
    this.sent = new Uint8Array(memory.pageCount);
    this.hashes = new Int32Array(method === 'hash' ? memory.pageCount * 2 : 0);
    this.words = memory.blocks.map((b) => new Int32Array(b.bytes.buffer, b.bytes.byteOffset, b.bytes.length >>> 2));
    this.live = memory.blocks.map((b) => Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.length));
    this.shadow = method === 'compare' ? memory.blocks.map((b) => Buffer.alloc(b.sizeBytes)) : [];
  }

  /** Milliseconds the last `sync()` took. */
  get lastSyncMs(): number {
    return this.syncMs;
  }

  /** Bytes of guest memory read by all syncs so far (pages already dirty are not read). */
  get bytesScanned(): number {
    return this.scanned;
  }

  /** Number of `sync()` calls so far. */
  get syncCount(): number {
    return this.syncs;
  }

  sync(into: Uint32Array): number {
    return this.syncRange(into, 0, this.memory.pageCount, true);
  }

  /**
   * {@link sync} over pages `firstPage .. endPage - 1`: a page written meanwhile outside the
   * range is found by a later scan, since a page stays dirty until what was sent matches it.
   * `whole`: this is a whole sync (counted in `syncCount`).
   * @throws InvalidArgumentError for a range outside the guest.
   */
  syncRange(into: Uint32Array, firstPage: number, endPage: number, whole = false): number {
    checkBitmap(into, this.memory.pageCount);
    if (!(Number.isInteger(firstPage) && Number.isInteger(endPage) && firstPage >= 0 && firstPage <= endPage && endPage <= this.memory.pageCount)) {
      throw new InvalidArgumentError(`page range ${firstPage}..${endPage} is outside the guest (0..${this.memory.pageCount})`);
    }
    const t0 = performance.now();
    const sent = this.sent;
    const hashes = this.hashes;
    const cur = this.current;
    const useHash = this.method === 'hash';
    let fresh = 0;
    let scanned = 0;
    const blocks = this.memory.blocks;
    for (let bi = 0; bi < blocks.length; bi++) {
      const block = blocks[bi]!;
      const bytes = block.bytes;
      if (this.live[bi]!.buffer !== bytes.buffer || this.live[bi]!.byteLength === 0) {
        // the memory's owner replaced its buffer (a WebAssembly.Memory grew): view it again
        this.words[bi] = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
        this.live[bi] = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      }
      const words = this.words[bi]!;
      const live = this.live[bi]!;
      const shadow = useHash ? live : this.shadow[bi]!;
      const first = block.firstPage;
      const from = Math.max(first, firstPage);
      const end = Math.min(first + block.pageCount, endPage);
      for (let g = from; g < end; g++) {
        const w = g >>> 5;
        const bit = 1 << (g & 31);
        if ((into[w]! & bit) !== 0) continue;
        let dirty = sent[g] === 0;
        if (!dirty) {
          const p = g - first;
          scanned++;
          if (useHash) {
            pageHashInto(words, p << (PAGE_SHIFT - 2), cur, 0);
            dirty = cur[0] !== hashes[2 * g] || cur[1] !== hashes[2 * g + 1];
          } else {
            const off = p * PAGE_SIZE;
            dirty = live.compare(shadow, off, off + PAGE_SIZE, off, off + PAGE_SIZE) !== 0;
          }
        }
        if (dirty) {
          into[w] = into[w]! | bit;
          fresh++;
        }
      }
    }
    this.scanned += scanned * PAGE_SIZE;
    if (whole) this.syncs++;
    this.syncMs = performance.now() - t0;
    return fresh;
  }

  /**
   * Records the bytes the receiver now holds for a page.
   * @throws InvalidArgumentError for a page outside the guest or `bytes` not one page long.
   */
  readonly usesSentBytes = true;

  noteSent(globalPage: number, bytes: Uint8Array): void {
    if (!(globalPage >= 0 && globalPage < this.memory.pageCount) || !Number.isInteger(globalPage)) {
      throw new InvalidArgumentError(`page ${globalPage} is outside the guest (0..${this.memory.pageCount - 1})`);
    }
    if (bytes.length !== PAGE_SIZE) {
      throw new InvalidArgumentError(`noteSent page ${globalPage}: expected ${PAGE_SIZE} bytes, got ${bytes.length}`);
    }
    if (this.method === 'hash') {
      // Copy to an aligned scratch page: `bytes` may sit at any offset, and a view would allocate.
      this.scratch.set(bytes);
      pageHashInto(this.scratchWords, 0, this.hashes, 2 * globalPage);
    } else {
      const bi = this.memory.blockIndexOfPage(globalPage);
      this.shadow[bi]!.set(bytes, (globalPage - this.memory.blocks[bi]!.firstPage) * PAGE_SIZE);
    }
    this.sent[globalPage] = 1;
  }

  /** Forgets every sent state: all pages are dirty at the next sync. */
  reset(): void {
    this.sent.fill(0);
  }
}
