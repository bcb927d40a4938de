import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { updateHash } from '../hash.js';
import type { RamDigester } from '../hash.js';
import { MAX_GUEST_PAGES, PAGE_SHIFT, PAGE_SIZE } from './page.js';
import { RamBlock, checkBlockSize, checkIdstr } from './ram-block.js';
import type { RamBlockSpec } from './ram-block.js';

/** Existing memory to attach as blocks (no allocation, no copy). Internal to this file. */
class AttachedViews {
  constructor(readonly views: readonly BlockView[]) {}
}

/** A block's bytes, and the WebAssembly.Memory they live in (at `bytes.byteOffset`), if any. */
interface BlockView {
  idstr: string;
  bytes: Uint8Array;
  wasmMemory?: WebAssembly.Memory;
  refresh?: () => Uint8Array;
  /** Bytes of the memory after the block's, set aside for I/O (see GuestMemoryOptions.ioBytes). */
  io?: Uint8Array;
}

/** How `new GuestMemory` allocates. */
export interface GuestMemoryOptions {
  /**
   * Bytes (rounded up to 64 KiB) to set aside in the WebAssembly.Memory of the largest block
   * whose memory can hold them beside it: {@link GuestMemory.ioArea}. A destination reads the
   * stream into buffers there, so that a page goes into RAM with one `memory.copy` (see
   * codec/in-place-copy.ts). Pages of it are not touched, hence not resident, until used.
   */
  ioBytes?: number;
}

/**
 * A guest's RAM: named blocks of 4 KiB pages, numbered globally in block order.
 *
 * `new GuestMemory(specs)` allocates each block as a zeroed `SharedArrayBuffer`, so the
 * workload workers and the migration (main thread) see the same bytes. A block of whole 64 KiB
 * pages is the buffer of a shared `WebAssembly.Memory` of exactly its size (`RamBlock.wasmMemory`),
 * so that the source's SIMD kernel can test its pages in place. A worker re-attaches
 * with {@link GuestMemory.fromShared}. Memory that was not allocated here (a `WebAssembly.Memory`,
 * any `Uint8Array`) can be described with {@link GuestMemory.wrap} and tracked by the scanning
 * dirty log.
 */
export class GuestMemory {
  /** The blocks in global page order. */
  readonly blocks: readonly RamBlock[];
  /** Sum of all block sizes. */
  readonly totalBytes: number;
  /** Sum of all block page counts: global page indices are `0 .. pageCount - 1`. */
  readonly pageCount: number;
  private readonly firstPages: Int32Array;
  private readonly byName: ReadonlyMap<string, RamBlock>;
  /**
   * The bytes set aside for I/O (GuestMemoryOptions.ioBytes) and the block whose
   * WebAssembly.Memory holds them, after the block's own bytes; undefined when none was asked
   * for or no block's memory could hold them.
   */
  readonly ioArea: { block: RamBlock; bytes: Uint8Array } | undefined;

  /**
   * Allocates zeroed shared RAM for each block (a shared WebAssembly.Memory where the size allows).
   * @throws InvalidArgumentError for an empty list, a bad or duplicate idstr, a size that is
   *   not a positive multiple of 4096, more than 2^31 - 1 pages in all, or memory that cannot be
   *   allocated.
   */
  constructor(blocks: readonly RamBlockSpec[], options: GuestMemoryOptions = {}) {
    const ioBytes = options.ioBytes ?? 0;
    if (!Number.isSafeInteger(ioBytes) || ioBytes < 0) throw new InvalidArgumentError(`ioBytes must be a whole number of bytes >= 0, got ${ioBytes}`);
    const views = blocks instanceof AttachedViews ? blocks.views : allocate(blocks, ioBytes);
    if (views.length === 0) throw new InvalidArgumentError('a guest needs at least one RAM block');
    const list: RamBlock[] = [];
    const byName = new Map<string, RamBlock>();
    const firstPages = new Int32Array(views.length);
    let io: { block: RamBlock; bytes: Uint8Array } | undefined;
    let page = 0;
    views.forEach((v, i) => {
      const idstr = checkIdstr(v.idstr, i);
      if (byName.has(idstr)) throw new InvalidArgumentError(`RAM block ${i}: duplicate idstr ${JSON.stringify(idstr)}`);
      checkBlockSize(v.bytes.length, idstr);
      if (v.bytes.byteOffset % 8 !== 0) {
        throw new InvalidArgumentError(`RAM block ${JSON.stringify(idstr)}: byteOffset ${v.bytes.byteOffset} is not 8-byte aligned`);
      }
      const pages = v.bytes.length >>> PAGE_SHIFT;
      if (page + pages > MAX_GUEST_PAGES) {
        throw new InvalidArgumentError(`guest RAM exceeds ${MAX_GUEST_PAGES} pages at block ${JSON.stringify(idstr)}`);
      }
      const block = new RamBlock(idstr, v.bytes, page, v.wasmMemory, v.refresh);
      if (v.io !== undefined) io = { block, bytes: v.io };
      list.push(block);
      byName.set(idstr, block);
      firstPages[i] = page;
      page += pages;
    });
    this.blocks = list;
    this.ioArea = io;
    this.byName = byName;
    this.firstPages = firstPages;
    this.pageCount = page;
    this.totalBytes = page * PAGE_SIZE;
  }

  /**
   * Re-attaches to RAM allocated elsewhere (inside a workload worker, or on a destination that
   * received the buffers). No copy: the blocks alias the given buffers.
   * @throws InvalidArgumentError as the constructor does.
   */
  static fromShared(blocks: readonly { idstr: string; sab: SharedArrayBuffer }[]): GuestMemory {
    if (!Array.isArray(blocks)) throw new InvalidArgumentError('fromShared expects an array of { idstr, sab }');
    const views = blocks.map((b, i) => {
      if (!(b.sab instanceof SharedArrayBuffer)) throw new InvalidArgumentError(`RAM block ${i}: sab is not a SharedArrayBuffer`);
      return { idstr: b.idstr, bytes: new Uint8Array(b.sab) };
    });
    return new GuestMemory(new AttachedViews(views) as unknown as RamBlockSpec[]);
  }

  /**
   * Describes existing memory as RAM blocks without copying: e.g. `new Uint8Array(wasmMemory.buffer)`
   * for a `WebAssembly.Memory`, which cannot be instrumented and is tracked with the scanning
   * log. Non-shared memory cannot run workloads (`Guest.start` refuses it). If the underlying
   * buffer may be replaced (a non-shared `WebAssembly.Memory` that grows detaches its old
   * buffer), give `refresh`, which makes the view again: `RamBlock.bytes` then calls it when
   * its view was detached. Give `wasmMemory` when the bytes lie in that `WebAssembly.Memory`:
   * pages are then tested for zero and hashed where they lie, with SIMD.
   * @throws InvalidArgumentError as the constructor does, or for a view not 8-byte aligned, or a
   *   `wasmMemory` whose buffer is not the one `bytes` views.
   */
  static wrap(blocks: readonly { idstr: string; bytes: Uint8Array; wasmMemory?: WebAssembly.Memory; refresh?: () => Uint8Array }[]): GuestMemory {
    if (!Array.isArray(blocks)) throw new InvalidArgumentError('wrap expects an array of { idstr, bytes }');
    blocks.forEach((b, i) => {
      if (!(b.bytes instanceof Uint8Array)) throw new InvalidArgumentError(`RAM block ${i}: bytes is not a Uint8Array`);
      if (b.wasmMemory !== undefined && (!(b.wasmMemory instanceof WebAssembly.Memory) || b.wasmMemory.buffer !== b.bytes.buffer)) {
        throw new InvalidArgumentError(`RAM block ${i}: bytes does not view wasmMemory's buffer`);
      }
    });
    return new GuestMemory(new AttachedViews(blocks) as unknown as RamBlockSpec[]);
  }

  /** The block named `idstr`, as the stream names it. */
  block(idstr: string): RamBlock | undefined {
    return this.byName.get(idstr);
  }

  /**
   * The block that holds a global page (binary search; no allocation, safe on per-page paths).
   * @throws InvalidArgumentError if the page is outside the guest.
   */
  blockOfPage(globalPage: number): RamBlock {
    return this.blocks[this.blockIndexOfPage(globalPage)]!;
  }

  /**
   * Index in {@link GuestMemory.blocks} of the block that holds a global page; for callers that
   * keep per-block arrays beside the blocks.
   * @throws InvalidArgumentError if the page is outside the guest.
   */
  blockIndexOfPage(globalPage: number): number {
    if (!(globalPage >= 0 && globalPage < this.pageCount) || !Number.isInteger(globalPage)) {
      throw new InvalidArgumentError(`page ${globalPage} is outside the guest (0..${this.pageCount - 1})`);
    }
    const firsts = this.firstPages;
    let lo = 0;
    let hi = firsts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (firsts[mid]! <= globalPage) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * SHA-256 (hex) of every block's bytes in block order: how a source and a destination prove
   * they hold the same RAM. Pause the guest first, or the digest mixes two moments.
   */
  digest(): string {
    const h = createHash('sha256');
    for (const b of this.blocks) updateHash(h, b.bytes);
    return h.digest('hex');
  }

  /** The digest of every block's bytes in block order with another algorithm (see `createRamDigester`). */
  digestWith(digester: RamDigester): string {
    return digester.digest(this.blocks.map((b) => b.bytes));
  }
}

function allocate(specs: readonly RamBlockSpec[], ioBytes: number): BlockView[] {
  if (!Array.isArray(specs)) throw new InvalidArgumentError('GuestMemory expects an array of RAM block specs');
  // Validate everything before allocating anything: a bad last block must not cost gigabytes first.
  specs.forEach((s, i) => {
    if (typeof s !== 'object' || s === null) throw new InvalidArgumentError(`RAM block ${i}: expected { idstr, sizeBytes }`);
    checkBlockSize(s.sizeBytes, checkIdstr(s.idstr, i));
  });
  // the I/O area goes beside the largest block whose memory can take it
  const ioPages = Math.ceil(ioBytes / WASM_PAGE_BYTES);
  let ioAt = -1;
  if (ioPages > 0) {
    specs.forEach((s, i) => {
      const pages = s.sizeBytes / WASM_PAGE_BYTES;
      if (Number.isInteger(pages) && pages + ioPages <= WASM_MAX_PAGES && (ioAt < 0 || s.sizeBytes > specs[ioAt]!.sizeBytes)) ioAt = i;
    });
  }
  return specs.map((s, i) => {
    const extra = i === ioAt ? ioPages : 0;
    const wasmMemory = wasmBlockMemory(s.sizeBytes, extra);
    if (wasmMemory !== undefined) {
      // one buffer object for both views: the area is recognized by it (buffer identity)
      const buffer = wasmMemory.buffer;
      const view: BlockView = { idstr: s.idstr, bytes: new Uint8Array(buffer, 0, s.sizeBytes), wasmMemory };
      if (extra > 0) view.io = new Uint8Array(buffer, s.sizeBytes, extra * WASM_PAGE_BYTES);
      return view;
    }
    let sab: SharedArrayBuffer;
    try {
      sab = new SharedArrayBuffer(s.sizeBytes);
    } catch (e) {
      throw new InvalidArgumentError(`RAM block ${JSON.stringify(s.idstr)}: cannot allocate ${s.sizeBytes} bytes`, { cause: e });
    }
    return { idstr: s.idstr, bytes: new Uint8Array(sab) };
  });
}

/** WebAssembly pages are 64 KiB; a 32-bit memory holds at most 65536 of them. */
const WASM_PAGE_BYTES = 65536;
const WASM_MAX_PAGES = 65536;

/**
 * A block's RAM as a shared WebAssembly.Memory of exactly its size (zeroed, its buffer a
 * SharedArrayBuffer like any other block's), so that WebAssembly code can read it in place;
 * `extraPages` more for an I/O area after it (GuestMemoryOptions.ioBytes).
 * Undefined for sizes that are not whole 64 KiB pages or exceed 4 GiB (the block's
 * SharedArrayBuffer would then be longer than the block, or cannot be), and where the engine
 * refuses the memory: such blocks get a plain SharedArrayBuffer.
 */
function wasmBlockMemory(sizeBytes: number, extraPages = 0): WebAssembly.Memory | undefined {
  const pages = sizeBytes / WASM_PAGE_BYTES + extraPages;
  if (!Number.isInteger(pages) || pages > WASM_MAX_PAGES) return undefined;
  try {
    return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  } catch {
    return undefined;
  }
}
