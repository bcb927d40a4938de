/**
 * The codec arena: a shared, growable WebAssembly.Memory from which page buffers (the page
 * cache, snapshot and output slots) are carved, so the SIMD kernel reads them in place
 * instead of copying each page in. Shared memory is used because growing it never detaches
 * earlier views: every buffer handed out stays valid for as long as it is held.
 */
const WASM_PAGE = 65536;
const ALIGN = 64;

interface Range { start: number; size: number }

export class CodecArena {
  readonly memory: WebAssembly.Memory;
  /** Every SharedArrayBuffer the memory has exposed; views of any of them are arena views. */
  private readonly buffers = new Set<ArrayBufferLike>();
  /** The newest buffer (most views are of it): one compare before the Set look-up. */
  latest: ArrayBufferLike;
  private readonly free: Range[] = [];
  private readonly used = new Map<number, number>();
  /** Bytes at and above this offset were never handed out, so they are still zero. */
  private fresh: number;

  /** `reservedBytes` at the bottom are left to the kernel module itself. */
  constructor(readonly reservedBytes = WASM_PAGE, maximumPages = 65536) {
    this.memory = new WebAssembly.Memory({ initial: 2, maximum: maximumPages, shared: true });
    this.latest = this.memory.buffer;
    this.buffers.add(this.latest);
    this.free.push({ start: reservedBytes, size: this.memory.buffer.byteLength - reservedBytes });
    this.fresh = reservedBytes;
  }

  contains(view: Uint8Array): boolean {
    return this.buffers.has(view.buffer);
  }

  /** True when `b` is one of the memory's buffers; plain ArrayBuffers fail on the first compare. */
  holds(b: ArrayBufferLike): boolean {
    return b === this.latest || (b instanceof SharedArrayBuffer && this.buffers.has(b));
  }

  /** Bytes currently handed out. */
  get usedBytes(): number {
    let n = 0;
    for (const size of this.used.values()) n += size;
    return n;
  }

  /**
   * A view of `bytes` bytes, zero-filled unless `zeroed` is false (then it holds whatever
   * was there), or undefined when the memory cannot grow that far.
   */
  alloc(bytes: number, zeroed = true): Uint8Array | undefined {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let at = this.free.findIndex((r) => r.size >= size);
    if (at < 0 && !this.grow(size)) return undefined;
    if (at < 0) at = this.free.findIndex((r) => r.size >= size);
    const r = this.free[at]!;
    const start = r.start;
    if (r.size === size) this.free.splice(at, 1);
    else {
      r.start += size;
      r.size -= size;
    }
    this.used.set(start, size);
    const view = new Uint8Array(this.memory.buffer, start, bytes);
    // Zero only what was used before: touching fresh memory would fault in every page now.
    if (zeroed && start < this.fresh) view.subarray(0, Math.min(bytes, this.fresh - start)).fill(0);
    this.fresh = Math.max(this.fresh, start + size);
    return view;
  }

  release(view: Uint8Array): void {
    const size = this.used.get(view.byteOffset);
    if (size === undefined || !this.contains(view)) return;
    this.used.delete(view.byteOffset);
    const range = { start: view.byteOffset, size };
    let i = 0;
    while (i < this.free.length && this.free[i]!.start < range.start) i++;
    this.free.splice(i, 0, range);
    this.coalesce(i);
    if (i > 0) this.coalesce(i - 1);
  }

  private coalesce(i: number): void {
    const a = this.free[i];
    const b = this.free[i + 1];
    if (a && b && a.start + a.size === b.start) {
      a.size += b.size;
      this.free.splice(i + 1, 1);
    }
  }

  private grow(size: number): boolean {
    const oldBytes = this.memory.buffer.byteLength;
    const last = this.free[this.free.length - 1];
    const tailFree = last && last.start + last.size === oldBytes ? last.size : 0;
    const pages = Math.ceil((size - tailFree) / WASM_PAGE);
    try {
      this.memory.grow(pages);
    } catch {
      return false;
    }
    this.latest = this.memory.buffer;
    this.buffers.add(this.latest);
    const added = pages * WASM_PAGE;
    if (tailFree > 0) last!.size += added;
    else this.free.push({ start: oldBytes, size: added });
    return true;
  }
}
