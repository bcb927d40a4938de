/**
 * page128 digests over a guest's RAM (codec/page-hash128.ts defines the hash): the chunk table
 * both sides build, and the destination's running record of what landed.
 *
 * The destination hashes each page as it lands (at the end of every RAM section part it hashes
 * the pages that section wrote), so when RAM is complete only the last stage's pages and their
 * chunks are left to hash; the source hashes all its RAM after the pause (the check must not
 * trust the dirty log), on worker threads (see RamHasher).
 */
import { CHUNK_PAGES, chunksOfBlock, combine128, inPlacePageHasher, pageHash128, rootDigest } from '../codec/page-hash128.js';
import type { InPlacePageHasher } from '../codec/page-hash128.js';
import type { GuestMemory } from './guest-memory.js';
import type { RamBlock } from './ram-block.js';
import { InvalidArgumentError } from '../errors.js';

/** `out` filled with copies of `unit` (its length a multiple of unit's): log2(n) copies, not n. */
function fillRepeated(out: Int32Array, unit: Int32Array): void {
  if (out.length === 0) return;
  out.set(unit, 0);
  for (let have = unit.length; have < out.length; have *= 2) out.copyWithin(have, 0, Math.min(have, out.length - have));
}

/** Chunks (64 pages, the last of a block shorter) over a guest's blocks, in block order. */
export function chunkCountOf(memory: GuestMemory): number {
  return memory.blocks.reduce((n, b) => n + chunksOfBlock(b.sizeBytes), 0);
}

/** A page the check found different: its block, byte offset in the block, and global page number. */
export interface DifferingPage {
  block: string;
  offset: number;
  page: number;
}

/** Chunks whose 16-byte digests differ between two tables of the same length (at most `limit`). */
export function differingChunks(a: Int32Array, b: Int32Array, limit = Infinity): number[] {
  const out: number[] = [];
  for (let c = 0, n = Math.min(a.length, b.length) >>> 2; c < n && out.length < limit; c++) {
    const i = c * 4;
    if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2] || a[i + 3] !== b[i + 3]) out.push(c);
  }
  return out;
}

/** Where chunk `chunk` lies: its block, first page in the block, and pages. */
export function chunkPlace(memory: GuestMemory, chunk: number): { block: number; page: number; pages: number } {
  let first = 0;
  for (let b = 0; b < memory.blocks.length; b++) {
    const blk = memory.blocks[b]!;
    const n = chunksOfBlock(blk.sizeBytes);
    if (chunk < first + n) {
      const page = (chunk - first) * CHUNK_PAGES;
      return { block: b, page, pages: Math.min(CHUNK_PAGES, blk.pageCount - page) };
    }
    first += n;
  }
  throw new RangeError(`chunk ${chunk} is past the RAM`);
}

/** The page128 hash of one page of `memory` (block index, page in block), into out[at..at+4]. */
export function hashOnePage(memory: GuestMemory, block: number, page: number, out: Int32Array, at: number, hasher?: InPlacePageHasher): void {
  const bytes = memory.blocks[block]!.bytes;
  if (hasher !== undefined) {
    hasher.page(bytes.byteOffset + page * 4096, out, at);
    return;
  }
  if (bytes.byteOffset % 4 === 0) {
    pageHash128(new Int32Array(bytes.buffer, bytes.byteOffset + page * 4096, 1024), 0, out, at);
    return;
  }
  const copy = new Int32Array(1024);
  new Uint8Array(copy.buffer).set(bytes.subarray(page * 4096, page * 4096 + 4096));
  pageHash128(copy, 0, out, at);
}

/** In-place hashers for each block that lives in a WebAssembly.Memory (undefined for the others). */
export function inPlaceHashers(memory: GuestMemory): (InPlacePageHasher | undefined)[] {
  return memory.blocks.map((b) => (b.wasmMemory === undefined ? undefined : inPlacePageHasher(b.wasmMemory)));
}

/**
 * The destination's page hashes: told of each page a record wrote ({@link landed}), hashes
 * it at once where the SIMD hasher reads the RAM in place (the page is still in cache), else
 * at {@link flush} (the end of each RAM section part), and keeps the chunk table up to date,
 * so that the check at the end reads only what the last stage wrote.
 */
export class LandedPageHashes {
  readonly chunkCount: number;
  /** 4 lanes per page, global page order. */
  private readonly pageHashes: Int32Array;
  /** 4 lanes per chunk. */
  private readonly chunks: Int32Array;
  private readonly stale: Uint8Array;
  private readonly staleBlock: Int32Array;
  private readonly stalePage: Int32Array;
  private staleCount = 0;
  private readonly chunkStale: Uint8Array;
  private readonly staleChunks: Int32Array;
  private staleChunkCount = 0;
  private readonly chunkFirstPage: Int32Array;
  private readonly chunkPages: Int32Array;
  private readonly byName = new Map<string, { index: number; firstPage: number; firstChunk: number }>();
  private readonly hashers: (InPlacePageHasher | undefined)[];
  /** Each block's byte offset in its memory (where its in-place hasher reads it). */
  private readonly blockOffsets: number[];
  /** The result slot's block (-1: none), its address and its words. */
  private readonly slotBlock: number = -1;
  private readonly slotAddr: number = 0;
  private readonly slotWords: Int32Array | null = null;
  private lastName = '';
  private last: { index: number; firstPage: number; firstChunk: number } | undefined;

  /**
   * `startsZero`: the memory is all zero now (fresh), so an unwritten page needs no hashing.
   * `slot`: 16 bytes (4-aligned) outside guest RAM in the WebAssembly.Memory of `slot.block`
   * (its I/O area), where that block's pages are hashed to and read back from, instead of
   * through four WebAssembly globals a page.
   */
  constructor(private readonly memory: GuestMemory, startsZero: boolean, slot?: { block: RamBlock; bytes: Uint8Array }) {
    const pages = memory.pageCount;
    this.chunkCount = chunkCountOf(memory);
    this.pageHashes = new Int32Array(pages * 4);
    this.chunks = new Int32Array(this.chunkCount * 4);
    this.stale = new Uint8Array(pages);
    this.staleBlock = new Int32Array(pages);
    this.stalePage = new Int32Array(pages);
    this.chunkStale = new Uint8Array(this.chunkCount);
    this.staleChunks = new Int32Array(this.chunkCount);
    this.chunkFirstPage = new Int32Array(this.chunkCount);
    this.chunkPages = new Int32Array(this.chunkCount);
    this.hashers = inPlaceHashers(memory);
    if (slot !== undefined) {
      const index = memory.blocks.indexOf(slot.block);
      // the block's own view's buffer: a shared WebAssembly.Memory's `buffer` can be a new
      // object once the memory was shared with a worker
      if (index < 0 || slot.block.wasmMemory === undefined || slot.bytes.buffer !== slot.block.bytes.buffer || slot.bytes.length < 16 || slot.bytes.byteOffset % 4 !== 0) {
        throw new InvalidArgumentError('LandedPageHashes: the slot must be 16 4-aligned bytes in the WebAssembly.Memory of one of the memory\'s blocks');
      }
      this.slotBlock = index;
      this.slotAddr = slot.bytes.byteOffset;
      this.slotWords = new Int32Array(slot.bytes.buffer, slot.bytes.byteOffset, 4);
    }
    this.blockOffsets = memory.blocks.map((b) => b.bytes.byteOffset);
    let chunk = 0;
    memory.blocks.forEach((b, index) => {
      this.byName.set(b.idstr, { index, firstPage: b.firstPage, firstChunk: chunk });
      for (let p = 0; p < b.pageCount; p += CHUNK_PAGES, chunk++) {
        this.chunkFirstPage[chunk] = b.firstPage + p;
        this.chunkPages[chunk] = Math.min(CHUNK_PAGES, b.pageCount - p);
      }
    });
    if (startsZero) {
      // every page is the zero page until written: one hash, and one digest per chunk size
      const zero = new Int32Array(4);
      pageHash128(new Int32Array(1024), 0, zero, 0);
      fillRepeated(this.pageHashes, zero);
      const bySize = new Map<number, Int32Array>();
      for (let c = 0; c < this.chunkCount; c++) {
        const n = this.chunkPages[c]!;
        let d = bySize.get(n);
        if (d === undefined) {
          d = new Int32Array(4);
          combine128(this.pageHashes, 0, n, d, 0);
          bySize.set(n, d);
        }
        this.chunks.set(d, c * 4);
      }
    } else {
      // RAM that held something before: a page is hashed once it lands (every page does in a
      // source's first pass); one that never landed is read at the end (chunkTable)
      this.unseen = new Uint8Array(pages).fill(1);
      this.unseenCount = pages;
    }
  }

  /** Pages of RAM that was not zero at the start that no record has written yet (null: RAM started zero). */
  private readonly unseen: Uint8Array | null = null;
  private unseenCount = 0;

  private seen(g: number): void {
    const u = this.unseen;
    if (u !== null && u[g] === 1) {
      u[g] = 0;
      this.unseenCount--;
    }
  }

  /**
   * A record wrote the page at byte `offset` of block `idstr`: data (`fill` -1; hashed at
   * {@link flush}) or every byte `fill` (a ZERO record: its hash is known without reading).
   */
  landed(idstr: string, offset: number, fill = -1): void {
    if (idstr !== this.lastName || this.last === undefined) {
      this.last = this.byName.get(idstr);
      this.lastName = idstr;
      if (this.last === undefined) return;
    }
    const b = this.last;
    const page = offset >>> 12;
    const g = b.firstPage + page;
    this.seen(g);
    if (fill < 0) {
      const hasher = this.hashers[b.index];
      if (hasher === undefined || this.stale[g] === 1) {
        this.mark(b.index, b.firstPage, b.firstChunk, page);
        return;
      }
      // hashed now, while the record's copy left the page in the core's cache: twice as fast
      // as reading it back from memory with the pages landed after it
      const at = this.blockOffsets[b.index]! + offset;
      const words = this.slotWords;
      if (words !== null && b.index === this.slotBlock) {
        hasher.pageTo(at, this.slotAddr);
        const h = this.pageHashes;
        const i = g * 4;
        h[i] = words[0]!;
        h[i + 1] = words[1]!;
        h[i + 2] = words[2]!;
        h[i + 3] = words[3]!;
      } else hasher.page(at, this.pageHashes, g * 4);
      this.markChunk(b.firstChunk + Math.floor(page / CHUNK_PAGES));
      return;
    }
    // a data landing of this page still pending in this window is rehashed from RAM anyway
    this.pageHashes.set(this.fillHash(fill), (b.firstPage + page) * 4);
    this.markChunk(b.firstChunk + Math.floor(page / CHUNK_PAGES));
  }

  private readonly fillHashes = new Map<number, Int32Array>();
  /** The hash of a page whose every byte is `fill`. */
  private fillHash(fill: number): Int32Array {
    let h = this.fillHashes.get(fill);
    if (h === undefined) {
      h = new Int32Array(4);
      pageHash128(new Int32Array(new Uint8Array(4096).fill(fill).buffer), 0, h, 0);
      this.fillHashes.set(fill, h);
    }
    return h;
  }

  private markChunk(c: number): void {
    if (this.chunkStale[c] === 1) return;
    this.chunkStale[c] = 1;
    this.staleChunks[this.staleChunkCount++] = c;
  }

  private mark(block: number, firstPage: number, firstChunk: number, page: number): void {
    const g = firstPage + page;
    if (this.stale[g] === 1) return;
    this.stale[g] = 1;
    this.staleBlock[this.staleCount] = block;
    this.stalePage[this.staleCount++] = page;
    this.markChunk(firstChunk + Math.floor(page / CHUNK_PAGES));
  }

  /** Pages landed and not hashed yet. */
  get pending(): number {
    return this.staleCount;
  }

  /**
   * Hashes the pages that landed since the last flush, and the chunk digests they changed
   * (called at the end of each RAM section part, so the last one leaves little to do).
   */
  flush(): void {
    this.hashPages();
    for (let i = 0; i < this.staleChunkCount; i++) {
      const c = this.staleChunks[i]!;
      combine128(this.pageHashes, this.chunkFirstPage[c]!, this.chunkPages[c]!, this.chunks, c * 4);
      this.chunkStale[c] = 0;
    }
    this.staleChunkCount = 0;
  }

  /**
   * Hashes the pages that landed since the last flush, leaving their chunks to the next
   * {@link flush}: cheap to call often while a long section arrives (a chunk digest combines
   * 64 page hashes, however few of them changed).
   */
  hashPages(): void {
    const blocks = this.memory.blocks;
    for (let i = 0; i < this.staleCount; i++) {
      const b = this.staleBlock[i]!;
      const page = this.stalePage[i]!;
      const g = blocks[b]!.firstPage + page;
      hashOnePage(this.memory, b, page, this.pageHashes, g * 4, this.hashers[b]);
      this.stale[g] = 0;
    }
    this.staleCount = 0;
  }

  /** The chunk table of the RAM as it is now (flushes first); a view, valid until the next call. */
  chunkTable(): Int32Array {
    if (this.unseenCount > 0) {
      this.memory.blocks.forEach((b, index) => {
        const firstChunk = this.byName.get(b.idstr)!.firstChunk;
        for (let p = 0; p < b.pageCount; p++) {
          if (this.unseen![b.firstPage + p] === 0) continue;
          this.seen(b.firstPage + p);
          this.mark(index, b.firstPage, firstChunk, p);
        }
      });
    }
    this.flush();
    return this.chunks;
  }

  /** The root digest (hex) of {@link chunkTable}. */
  root(): string {
    return rootDigest(this.chunkTable(), this.chunkCount);
  }

  /** The page hashes of chunk `chunk` as they were last flushed (a copy). */
  pageHashesOf(chunk: number): Int32Array {
    const first = this.chunkFirstPage[chunk]!;
    return this.pageHashes.slice(first * 4, (first + this.chunkPages[chunk]!) * 4);
  }
}
