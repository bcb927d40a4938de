import { InvalidArgumentError } from '../errors.js';
import { PAGE_SHIFT, PAGE_SIZE } from './page.js';

/**
 * A RAM block as the user names it (`--ram 512M` gives `{ idstr: 'pc.ram', sizeBytes: 512 MiB }`).
 * `idstr` is what the stream carries (u8 length + bytes), so it must be 1..255 bytes of UTF-8;
 * `sizeBytes` is a positive multiple of {@link PAGE_SIZE}.
 */
export interface RamBlockSpec {
  idstr: string;
  sizeBytes: number;
}

/**
 * One named range of guest RAM, QEMU's `RAMBlock`. Pages of all blocks share one global
 * numbering (block order, no gaps) so that a dirty bitmap covers the whole guest; a block's
 * pages are `firstPage .. firstPage + pageCount - 1`.
 *
 * Created by {@link GuestMemory}; `bytes` is a view over a `SharedArrayBuffer` unless the
 * memory was made with `GuestMemory.wrap` over ordinary memory.
 */
export class RamBlock {
  /** Block size in bytes (a multiple of the page size). */
  readonly sizeBytes: number;
  /** Pages in this block. */
  readonly pageCount: number;
  /** The block's first byte as a global byte address (sum of the sizes of earlier blocks). */
  readonly offsetBytes: number;
  private view: Uint8Array;

  /** @internal Use {@link GuestMemory}, which validates and numbers the blocks. */
  constructor(
    /** The block's name in the stream, e.g. `pc.ram`. */
    readonly idstr: string,
    bytes: Uint8Array,
    /** Global page index of the block's first page. */
    readonly firstPage: number,
    /**
     * The `WebAssembly.Memory` whose buffer `bytes` views (at `bytes.byteOffset`), when
     * GuestMemory allocated the block as one or its owner says so (a PC's RAM inside v86's
     * memory): pages are then tested for zero and hashed in place, with SIMD.
     */
    readonly wasmMemory?: WebAssembly.Memory,
    /**
     * For memory whose buffer its owner may replace (a WebAssembly.Memory that grows detaches
     * its old buffer): makes the view again, over the same bytes.
     */
    private readonly refresh?: () => Uint8Array,
  ) {
    this.view = bytes;
    this.sizeBytes = bytes.length;
    this.pageCount = bytes.length >>> PAGE_SHIFT;
    this.offsetBytes = firstPage * PAGE_SIZE;
  }

  /**
   * The block's RAM: live memory that workers may be writing. Read it again after anything
   * that may have grown the memory (an emulator's slice): a replaced buffer gets a new view.
   */
  get bytes(): Uint8Array {
    if (this.view.byteLength === 0 && this.refresh !== undefined) this.view = this.refresh();
    return this.view;
  }

  /** True when workers can share this block (it lives in a `SharedArrayBuffer`). */
  get shared(): boolean {
    return this.bytes.buffer instanceof SharedArrayBuffer;
  }
}

/**
 * Checks a block name against the stream's limits (u8 length, UTF-8).
 * @throws InvalidArgumentError naming the block index and the broken bound.
 */
export function checkIdstr(idstr: unknown, index: number): string {
  if (typeof idstr !== 'string') throw new InvalidArgumentError(`RAM block ${index}: idstr must be a string, got ${typeof idstr}`);
  const len = Buffer.byteLength(idstr, 'utf8');
  if (len < 1 || len > 255) {
    throw new InvalidArgumentError(`RAM block ${index}: idstr ${JSON.stringify(idstr)} is ${len} bytes of UTF-8, must be 1..255`);
  }
  return idstr;
}

/**
 * Checks a block size: a positive safe integer multiple of the page size.
 * @throws InvalidArgumentError naming the block and the size.
 */
export function checkBlockSize(sizeBytes: unknown, idstr: string): number {
  if (typeof sizeBytes !== 'number' || !Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
    throw new InvalidArgumentError(`RAM block ${JSON.stringify(idstr)}: sizeBytes must be a positive integer, got ${String(sizeBytes)}`);
  }
  if (sizeBytes % PAGE_SIZE !== 0) {
    throw new InvalidArgumentError(`RAM block ${JSON.stringify(idstr)}: sizeBytes ${sizeBytes} is not a multiple of the page size ${PAGE_SIZE}`);
  }
  return sizeBytes;
}
