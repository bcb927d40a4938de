/**
 * Kernel selection: the only place that knows which kernel runs. The WebAssembly SIMD
 * kernel is used when it loads and validates (and LIVEMIG_KERNEL is not `ts`); the
 * TypeScript kernel otherwise. Both give the same bytes, which the differential tests prove.
 */
import { readFileSync } from 'node:fs';
import { TsKernel } from './ts-kernel.js';
import { CodecArena } from './arena.js';
import { MAX_DELTA_PAGE_BYTES } from './page.js';
import { InvalidArgumentError } from '../errors.js';

export type KernelName = 'wasm-simd' | 'ts';

export interface DeltaKernel {
  readonly name: KernelName;
  xbzrleEncode(old: Uint8Array, cur: Uint8Array, out: Uint8Array): number;
  xbrleEncode(old: Uint8Array, cur: Uint8Array, out: Uint8Array): number;
  isZeroPage(page: Uint8Array): boolean;
  dupPageByte(page: Uint8Array): number;
  /**
   * A buffer the kernel reads fastest (arena memory for the SIMD kernel), zero-filled
   * unless `zeroed` is false. Page caches and snapshot buffers come from here; give it
   * back with `freeBuffer`.
   */
  allocBuffer(bytes: number, zeroed?: boolean): Uint8Array;
  freeBuffer(buf: Uint8Array): void;
  /**
   * Where `buf` starts in the kernel's memory, or -1 when it is not kernel memory (always -1
   * for the TS kernel). Callers that keep pages in kernel memory (page cache, snapshot) look
   * their buffer up once and pass offsets to the `...At` methods: in Node 20 (V8 11.3)
   * `view.buffer` and `view.byteOffset` are not inlined and cost 15-45 ns each, which the
   * view methods above pay on every call (about 40% of an unchanged-page encode).
   */
  arenaOffset(buf: Uint8Array): number;
  /** xbzrleEncode on kernel-memory offsets from arenaOffset (page bytes a multiple of 64). */
  xbzrleEncodeAt?(oldOffset: number, curOffset: number, pageBytes: number, outOffset: number, outBytes: number): number;
  /** isZeroPage on a kernel-memory offset from arenaOffset (page bytes a multiple of 64). */
  isZeroPageAt?(offset: number, pageBytes: number): boolean;
  /** True when every byte at the kernel-memory offset equals `byte` (dupPageByte's test). */
  isFilledAt?(offset: number, pageBytes: number, byte: number): boolean;
  /** xbrleEncode on kernel-memory offsets. */
  xbrleEncodeAt?(oldOffset: number, curOffset: number, pageBytes: number, outOffset: number, outBytes: number): number;
}

class TsDeltaKernel extends TsKernel implements DeltaKernel {
  readonly name = 'ts' as const;
  allocBuffer(bytes: number): Uint8Array {
    return new Uint8Array(bytes);
  }
  freeBuffer(): void {}
  arenaOffset(): number {
    return -1;
  }
}

interface WasmExports {
  xbzrleEncode(o: number, c: number, slen: number, out: number, dlen: number): number;
  xbrleEncode(o: number, c: number, slen: number, out: number, budget: number): number;
  isFilled(p: number, len: number, b: number): number;
}

const SLOT = 16384;

class WasmDeltaKernel implements DeltaKernel {
  readonly name = 'wasm-simd' as const;
  private readonly slotOld: Uint8Array;
  private readonly slotCur: Uint8Array;
  private readonly slotOut: Uint8Array;
  private readonly ts = new TsKernel();

  constructor(private readonly exports: WasmExports, readonly arena: CodecArena) {
    this.slotOld = arena.alloc(SLOT)!;
    this.slotCur = arena.alloc(SLOT)!;
    this.slotOut = arena.alloc(SLOT)!;
  }

  xbzrleEncode(old: Uint8Array, cur: Uint8Array, out: Uint8Array): number {
    return this.encode(old, cur, out, 0);
  }

  xbrleEncode(old: Uint8Array, cur: Uint8Array, out: Uint8Array): number {
    return this.encode(old, cur, out, 1);
  }

  private encode(old: Uint8Array, cur: Uint8Array, out: Uint8Array, codec: 0 | 1): number {
    const slen = cur.length;
    if ((slen & 63) !== 0 || out.length > SLOT) {
      return codec === 0 ? this.ts.xbzrleEncode(old, cur, out) : this.ts.xbrleEncode(old, cur, out);
    }
    const arena = this.arena;
    let o = old.byteOffset;
    if (!arena.contains(old)) {
      this.slotOld.set(old);
      o = this.slotOld.byteOffset;
    }
    let c = cur.byteOffset;
    if (!arena.contains(cur)) {
      this.slotCur.set(cur);
      c = this.slotCur.byteOffset;
    }
    const direct = arena.contains(out);
    const dst = direct ? out.byteOffset : this.slotOut.byteOffset;
    const r = codec === 0
      ? this.exports.xbzrleEncode(o, c, slen, dst, out.length)
      : this.exports.xbrleEncode(o, c, slen, dst, out.length);
    if (r > 0 && !direct) {
      const src = this.slotOut;
      if (r <= 64) for (let k = 0; k < r; k++) out[k] = src[k]!;
      else out.set(src.subarray(0, r));
    }
    return r;
  }

  isZeroPage(page: Uint8Array): boolean {
    if ((page.length & 63) !== 0 || !this.arena.contains(page)) return this.ts.isZeroPage(page);
    return this.exports.isFilled(page.byteOffset, page.length, 0) === 1;
  }

  dupPageByte(page: Uint8Array): number {
    if ((page.length & 63) !== 0 || page.length === 0 || !this.arena.contains(page)) return this.ts.dupPageByte(page);
    const b = page[0]!;
    return this.exports.isFilled(page.byteOffset, page.length, b) === 1 ? b : -1;
  }

  allocBuffer(bytes: number, zeroed = true): Uint8Array {
    return this.arena.alloc(bytes, zeroed) ?? new Uint8Array(bytes);
  }

  freeBuffer(buf: Uint8Array): void {
    this.arena.release(buf);
  }

  arenaOffset(buf: Uint8Array): number {
    return this.arena.contains(buf) ? buf.byteOffset : -1;
  }

  xbzrleEncodeAt(oldOffset: number, curOffset: number, pageBytes: number, outOffset: number, outBytes: number): number {
    if ((pageBytes & 63) !== 0 || pageBytes > MAX_DELTA_PAGE_BYTES || outOffset < this.arena.reservedBytes) {
      throw new InvalidArgumentError(`xbzrleEncodeAt: a ${pageBytes}-byte page or an output at ${outOffset} is not what the kernel takes`);
    }
    return this.exports.xbzrleEncode(oldOffset, curOffset, pageBytes, outOffset, outBytes);
  }

  xbrleEncodeAt(oldOffset: number, curOffset: number, pageBytes: number, outOffset: number, outBytes: number): number {
    if ((pageBytes & 63) !== 0 || pageBytes > MAX_DELTA_PAGE_BYTES || outOffset < this.arena.reservedBytes) {
      throw new InvalidArgumentError(`xbrleEncodeAt: a ${pageBytes}-byte page or an output at ${outOffset} is not what the kernel takes`);
    }
    return this.exports.xbrleEncode(oldOffset, curOffset, pageBytes, outOffset, outBytes);
  }

  isFilledAt(offset: number, pageBytes: number, byte: number): boolean {
    if ((pageBytes & 63) !== 0) throw new InvalidArgumentError(`isFilledAt: a ${pageBytes}-byte page is not a multiple of 64 bytes`);
    return this.exports.isFilled(offset, pageBytes, byte) === 1;
  }

  isZeroPageAt(offset: number, pageBytes: number): boolean {
    if ((pageBytes & 63) !== 0) throw new InvalidArgumentError(`isZeroPageAt: a ${pageBytes}-byte page is not a multiple of 64 bytes`);
    return this.exports.isFilled(offset, pageBytes, 0) === 1;
  }
}

const wasmUrl = new URL('./simd-kernel.wasm', import.meta.url);

/** Loads the SIMD kernel, or returns undefined (with the reason) when it cannot run here. */
export function loadWasmKernel(): { kernel?: DeltaKernel; reason?: string } {
  try {
    const bytes = readFileSync(wasmUrl);
    const module = new WebAssembly.Module(bytes);
    const arena = new CodecArena();
    const instance = new WebAssembly.Instance(module, { env: { memory: arena.memory } });
    return { kernel: new WasmDeltaKernel(instance.exports as unknown as WasmExports, arena) };
  } catch (e) {
    return { reason: e instanceof Error ? e.message : String(e) };
  }
}

let tsKernel: DeltaKernel | undefined;
let wasmKernel: DeltaKernel | undefined | null;

/** A kernel by name; `wasm-simd` is undefined where it cannot load. */
export function getKernel(name: KernelName): DeltaKernel | undefined {
  if (name === 'ts') return (tsKernel ??= new TsDeltaKernel());
  if (wasmKernel === undefined) wasmKernel = loadWasmKernel().kernel ?? null;
  return wasmKernel ?? undefined;
}

let selected: DeltaKernel | undefined;

/** The kernel the public codec functions use, chosen once. */
export function selectedKernel(): DeltaKernel {
  if (selected) return selected;
  const forced = process.env['LIVEMIG_KERNEL'];
  selected = (forced === 'ts' ? undefined : getKernel('wasm-simd')) ?? getKernel('ts')!;
  return selected;
}

export { MAX_DELTA_PAGE_BYTES };
