/**
 * page128: livemig's 128-bit page hash, and the chunk and root digests built from it (how a
 * migration proves both sides hold the same RAM; docs/stream-format.md defines it).
 *
 * A page (4096 bytes, read as 1024 little-endian u32 words) feeds 16 lanes, word j of each
 * 64-byte stripe going to lane j:  lane' = rotl(lane ^ w, 13) * P2.  The 16 lanes (four
 * vectors a0..a3 of four) fold into 128 bits:  h = mix(a0 ^ mix(a1)); h = mix(h ^ a2);
 * h = mix(h ^ a3), where mix is murmur3's fmix32 in each lane followed by lane[i] + 2 *
 * lane[i+1 mod 4] (an invertible step: I + 2S has an odd determinant). Every step is a
 * bijection of the changed input, so a change confined to one 32-bit word always changes the
 * hash; wider changes collide with probability about 2^-128 for unstructured data. Not
 * cryptographic: it catches wrong pages, not a peer forging them.
 *
 * combine(hashes) over n 128-bit values: c = C0; c = mix(c ^ h_i) for each; mix(c ^ splat(n)).
 * A chunk digest combines its pages' hashes; the root combines the chunk digests.
 *
 * The SIMD version (asm/page-hash.ts) runs in place on a guest's WebAssembly.Memory; this
 * TypeScript one is the reference (and the fallback) and gives the same values.
 */
import { InPlaceModule } from './in-place-module.js';
import { InvalidArgumentError } from '../errors.js';
import { selectedKernel } from './kernel.js';

const P1 = 0x9e3779b1 | 0;
const P2 = 0x85ebca77 | 0;
const P3 = 0xc2b2ae3d | 0;
const P4 = 0x27d4eb2f | 0;

/** Pages per chunk: the unit a mismatch is first located to (256 KiB of RAM, 16 bytes of stream). */
export const CHUNK_PAGES = 64;
/** Bytes of one hash or digest. */
export const HASH128_BYTES = 16;

const lanes = new Int32Array(16);
const t = new Int32Array(4);

function fmix(x: number): number {
  x ^= x >>> 15;
  x = Math.imul(x, P2);
  x ^= x >>> 13;
  x = Math.imul(x, P3);
  return x ^ (x >>> 16);
}

/** mix() of the four lanes v[at..at+3], in place. */
function mixInPlace(v: Int32Array, at: number): void {
  const x0 = fmix(v[at]!);
  const x1 = fmix(v[at + 1]!);
  const x2 = fmix(v[at + 2]!);
  const x3 = fmix(v[at + 3]!);
  v[at] = (x0 + (x1 << 1)) | 0;
  v[at + 1] = (x1 + (x2 << 1)) | 0;
  v[at + 2] = (x2 + (x3 << 1)) | 0;
  v[at + 3] = (x3 + (x0 << 1)) | 0;
}

/** The page128 hash of the page at `words[wordIndex .. +1024]`, into `out[outIndex .. +4]`. No allocation. */
export function pageHash128(words: Int32Array, wordIndex: number, out: Int32Array, outIndex: number): void {
  const a = lanes;
  for (let j = 0; j < 16; j++) a[j] = Math.imul(P1, j + 1);
  for (let i = wordIndex, end = wordIndex + 1024; i < end; i += 16) {
    for (let j = 0; j < 16; j++) {
      const x = a[j]! ^ words[i + j]!;
      a[j] = Math.imul((x << 13) | (x >>> 19), P2);
    }
  }
  // h = mix(a0 ^ mix(a1)); h = mix(h ^ a2); h = mix(h ^ a3)
  mixInPlace(a, 4);
  for (let j = 0; j < 4; j++) t[j] = a[j]! ^ a[4 + j]!;
  mixInPlace(t, 0);
  for (let j = 0; j < 4; j++) t[j] = t[j]! ^ a[8 + j]!;
  mixInPlace(t, 0);
  for (let j = 0; j < 4; j++) t[j] = t[j]! ^ a[12 + j]!;
  mixInPlace(t, 0);
  for (let j = 0; j < 4; j++) out[outIndex + j] = t[j]!;
}

/** combine() of the `count` 128-bit values at `hashes[from*4 ..]`, into `out[outIndex .. +4]`. */
export function combine128(hashes: Int32Array, from: number, count: number, out: Int32Array, outIndex: number): void {
  const c = t;
  for (let j = 0; j < 4; j++) c[j] = Math.imul(P4, j + 1);
  for (let i = from * 4, end = (from + count) * 4; i < end; i += 4) {
    c[0] = c[0]! ^ hashes[i]!;
    c[1] = c[1]! ^ hashes[i + 1]!;
    c[2] = c[2]! ^ hashes[i + 2]!;
    c[3] = c[3]! ^ hashes[i + 3]!;
    mixInPlace(c, 0);
  }
  for (let j = 0; j < 4; j++) c[j] = c[j]! ^ count;
  mixInPlace(c, 0);
  for (let j = 0; j < 4; j++) out[outIndex + j] = c[j]!;
}

/** Hashes pages of one WebAssembly.Memory where they lie; results into an Int32Array at an index. */
export interface InPlacePageHasher {
  /** The page128 hash of the page at byte `offset` of the memory. */
  page(offset: number, out: Int32Array, outIndex: number): void;
  /** combine128 of the page hashes of `pages` pages from byte `offset` (a chunk digest). */
  chunk(offset: number, pages: number, out: Int32Array, outIndex: number): void;
  /**
   * The page128 hash of the page at byte `offset`, stored at byte `outAddr` of the same memory
   * (16 bytes, four little-endian u32 lanes; 4-aligned, outside guest RAM): cheaper than
   * {@link page}'s four reads of WebAssembly globals when read back from a view of that memory.
   */
  pageTo(offset: number, outAddr: number): void;
}

interface Exports {
  hashPage(p: number): void;
  hashPageTo(p: number, out: number): void;
  hashChunk(p: number, pages: number): void;
  h0: { value: unknown };
  h1: { value: unknown };
  h2: { value: unknown };
  h3: { value: unknown };
}

const hasherModule = new InPlaceModule('page-hash');

/**
 * The SIMD page128 hasher on `memory` (a WebAssembly.Memory, shared or not, such as a RamBlock's
 * `wasmMemory`; offsets are the memory's), or undefined where the SIMD kernel is not the selected kernel or the module
 * cannot load here (callers then use {@link pageHash128}). It only reads the memory, but for the 16 bytes `pageTo` is told to write.
 */
export function inPlacePageHasher(memory: WebAssembly.Memory): InPlacePageHasher | undefined {
  if (!(memory instanceof WebAssembly.Memory)) throw new InvalidArgumentError('inPlacePageHasher: expected a WebAssembly.Memory');
  if (selectedKernel().name !== 'wasm-simd') return undefined;
  const x = hasherModule.exportsOn<Exports>(memory);
  if (x === undefined) return undefined;
  const { h0, h1, h2, h3 } = x;
  const read = (out: Int32Array, i: number): void => {
    out[i] = h0.value as number;
    out[i + 1] = h1.value as number;
    out[i + 2] = h2.value as number;
    out[i + 3] = h3.value as number;
  };
  return {
    page(offset, out, outIndex) {
      x.hashPage(offset);
      read(out, outIndex);
    },
    chunk(offset, pages, out, outIndex) {
      x.hashChunk(offset, pages);
      read(out, outIndex);
    },
    pageTo: x.hashPageTo,
  };
}

/** Chunks of a block of `bytes` bytes (whole pages): CHUNK_PAGES pages each, the last one shorter. */
export function chunksOfBlock(bytes: number): number {
  return Math.ceil(bytes / 4096 / CHUNK_PAGES);
}

/**
 * The chunk digests of RAM blocks (in order, chunks numbered across blocks) from chunk `from`
 * up to `to`, into `out[chunk * 4 ..]`. `hashers[i]`, when given, hashes block i in place;
 * otherwise the TypeScript reference reads it. Blocks are whole pages.
 */
export function chunkDigests(blocks: readonly Uint8Array[], hashers: readonly (InPlacePageHasher | undefined)[], from: number, to: number, out: Int32Array): void {
  let first = 0;
  for (let b = 0; b < blocks.length && first < to; b++) {
    const block = blocks[b]!;
    const n = chunksOfBlock(block.length);
    const lo = Math.max(from, first);
    const hi = Math.min(to, first + n);
    if (lo < hi) {
      const h = hashers[b];
      const words = h === undefined ? wordsOf(block) : undefined;
      const pageHashes = h === undefined ? new Int32Array(CHUNK_PAGES * 4) : undefined;
      const pagesInBlock = block.length / 4096;
      for (let c = lo; c < hi; c++) {
        const page = (c - first) * CHUNK_PAGES;
        const pages = Math.min(CHUNK_PAGES, pagesInBlock - page);
        if (h !== undefined) h.chunk(block.byteOffset + page * 4096, pages, out, c * 4);
        else {
          for (let i = 0; i < pages; i++) pageHash128(words!, (page + i) * 1024, pageHashes!, i * 4);
          combine128(pageHashes!, 0, pages, out, c * 4);
        }
      }
    }
    first += n;
  }
}

/** The block's bytes as 32-bit words (copied when the view is not 4-byte aligned). */
function wordsOf(block: Uint8Array): Int32Array {
  if (block.byteOffset % 4 === 0) return new Int32Array(block.buffer, block.byteOffset, block.length >>> 2);
  const copy = new Uint8Array(block.length);
  copy.set(block);
  return new Int32Array(copy.buffer);
}

/** The root digest (hex) of `count` chunk digests. */
export function rootDigest(chunks: Int32Array, count: number): string {
  const out = new Int32Array(4);
  combine128(chunks, 0, count, out, 0);
  return Buffer.from(out.buffer).toString('hex');
}

/** The page128 root digest (hex) of whole RAM blocks, read here with the TypeScript reference. */
export function page128Digest(blocks: readonly Uint8Array[]): string {
  const count = blocks.reduce((n, b) => n + chunksOfBlock(b.length), 0);
  const chunks = new Int32Array(count * 4);
  chunkDigests(blocks, [], 0, count, chunks);
  return rootDigest(chunks, count);
}
