/**
 * Kernel selection: the only place that knows which kernel runs. The WebAssembly SIMD
 * kernel is used when it loads and validates (and LIVEMIG_KERNEL is not `ts`); the
 * TypeScript kernel otherwise. Both give the same bytes, which the differential tests prove.
 */
import { Buffer } from 'node:buffer';
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
  /**
   * xbzrleEncode for pages that are plain Uint8Arrays (the public functions' path): it does not
   * look whether they are kernel memory (a view look-up per call), it copies them in. Right
   * for any buffer, only slower for kernel memory.
   */
  xbzrleEncodePlain?(old: Uint8Array, cur: Uint8Array, out: Uint8Array): number;
  /** xbrleEncode for plain Uint8Arrays, as xbzrleEncodePlain. */
  xbrleEncodePlain?(old: Uint8Array, cur: Uint8Array, out: Uint8Array): number;
}

/** Arenas of loaded SIMD kernels, for KernelView to find which one a view lies in. */
const arenas: CodecArena[] = [];

/**
 * The views allocCodecBuffer hands out. Each carries its arena and offset there, read once
 * when it is made, so the encoders take it in place with two field loads instead of the
 * `.buffer`/`.byteOffset` accessors (not inlined by V8 11.3, 15-45 ns each). Subarrays are
 * KernelViews too (through Symbol.species); copies (slice, map) get a fresh ArrayBuffer and
 * so no arena.
 */
export class KernelView extends Uint8Array {
  /** The arena this view lies in, or undefined (then `arenaAt` is -1). */
  readonly arena: CodecArena | undefined;
  readonly arenaAt: number;
  constructor(a: any, b?: number, c?: number) {
    super(a, b, c);
    const buf = this.buffer;
    this.arena = arenas.find((x) => x.holds(buf));
    this.arenaAt = this.arena ? this.byteOffset : -1;
  }
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

/** Where the private module's slots lie: above the 64 KiB its static data may use. */
const PRIVATE_OLD = 65536;
const PRIVATE_CUR = PRIVATE_OLD + SLOT;
const PRIVATE_OUT = PRIVATE_CUR + SLOT;
const PRIVATE_PAGES = 2; // 128 KiB: the static data and the three slots

/**
 * Above this share of unchanged pages among recent plain-array calls, the encoder first asks
 * memcmp (Buffer.compare) whether the pages are equal. On an unchanged 4 KiB page that
 * replaces the two copies and the scan (about 100 ns instead of 220 ns, cache-resident); on a
 * changed page it is a wasted native call (about 60 ns: memcmp stops at the first
 * difference). Break-even is a share of about 1/3. The share is kept in 1/256ths, a small
 * integer, so that the hot path does no floating point.
 */
const PRECHECK_SHARE = 85;
const SHARE_ONE = 256;
/** The running share moves 1/16 of the way to each call's outcome (a window of about 16 calls). */
const SHARE_SHIFT = 4;

/** The SIMD kernel on its own unshared memory, for pages that are not in the arena. */
interface PrivateKernel {
  readonly exports: WasmExports;
  readonly old: Uint8Array;
  readonly cur: Uint8Array;
  readonly out: Uint8Array;
}

class WasmDeltaKernel implements DeltaKernel {
  readonly name = 'wasm-simd' as const;
  private readonly slotOld: Uint8Array;
  private readonly slotCur: Uint8Array;
  private readonly slotOut: Uint8Array;
  private readonly ts = new TsKernel();
  /** Running share of unchanged pages among plain-array calls, in 1/256ths (see PRECHECK_SHARE). */
  private unchangedShare = 0;

  constructor(
    private readonly exports: WasmExports,
    readonly arena: CodecArena,
    private readonly priv?: PrivateKernel,
  ) {
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

  xbzrleEncodePlain(old: Uint8Array, cur: Uint8Array, out: Uint8Array): number {
    const p = this.priv;
    if ((cur.length & 63) !== 0 || out.length > SLOT || p === undefined) return this.encode(old, cur, out, 0);
    if (cur instanceof KernelView) {
      const a = this.arena;
      if (cur.arena === a && old instanceof KernelView && old.arena === a && out instanceof KernelView && out.arena === a) {
        return this.exports.xbzrleEncode(old.arenaAt, cur.arenaAt, cur.length, out.arenaAt, out.length);
      }
      if (cur.arena === a) return this.encodeInArena(old, cur, out, 0);
    }
    return this.encodePlain(p, old, cur, out, 0);
  }

  xbrleEncodePlain(old: Uint8Array, cur: Uint8Array, out: Uint8Array): number {
    const p = this.priv;
    if ((cur.length & 63) !== 0 || out.length > SLOT || p === undefined) return this.encode(old, cur, out, 1);
    if (cur instanceof KernelView) {
      const a = this.arena;
      if (cur.arena === a && old instanceof KernelView && old.arena === a && out instanceof KernelView && out.arena === a) {
        return this.exports.xbrleEncode(old.arenaAt, cur.arenaAt, cur.length, out.arenaAt, out.length);
      }
      if (cur.arena === a) return this.encodeInArena(old, cur, out, 1);
    }
    return this.encodePlain(p, old, cur, out, 1);
  }

  /**
   * The public functions on a current page from allocCodecBuffer with an old page or output
   * that is not one: the page is read in place, the others go through slots.
   */
  private encodeInArena(old: Uint8Array, cur: Uint8Array, out: Uint8Array, codec: 0 | 1): number {
    const arena = this.arena;
    let o = old.byteOffset;
    if (!arena.holds(old.buffer)) {
      this.slotOld.set(old);
      o = this.slotOld.byteOffset;
    }
    const direct = arena.holds(out.buffer);
    const dst = direct ? out.byteOffset : this.slotOut.byteOffset;
    const r = codec === 0
      ? this.exports.xbzrleEncode(o, cur.byteOffset, cur.length, dst, out.length)
      : this.exports.xbrleEncode(o, cur.byteOffset, cur.length, dst, out.length);
    if (r > 0 && !direct) copyOut(this.slotOut, out, r);
    return r;
  }

  private encode(old: Uint8Array, cur: Uint8Array, out: Uint8Array, codec: 0 | 1): number {
    const slen = cur.length;
    if ((slen & 63) !== 0 || out.length > SLOT) {
      return codec === 0 ? this.ts.xbzrleEncode(old, cur, out) : this.ts.xbrleEncode(old, cur, out);
    }
    const arena = this.arena;
    if (!arena.contains(old) && this.priv !== undefined) return this.encodePlain(this.priv, old, cur, out, codec);
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
    if (r > 0 && !direct) copyOut(this.slotOut, out, r);
    return r;
  }

  /**
   * Pages outside the arena: copied into the private module's memory (a memcpy each), or,
   * while most recent pages were unchanged, first compared by memcmp. Same bytes either way:
   * an unchanged page encodes to 0 in both formats (XBZRLE only when `out` has room for 2 bytes).
   */
  private encodePlain(p: PrivateKernel, old: Uint8Array, cur: Uint8Array, out: Uint8Array, codec: 0 | 1): number {
    const dlen = out.length;
    const share = this.unchangedShare;
    let counted = false;
    if (share > PRECHECK_SHARE && (codec === 1 || dlen >= 2)) {
      if (Buffer.compare(old, cur) === 0) {
        this.unchangedShare = share + ((SHARE_ONE - share) >> SHARE_SHIFT);
        return 0;
      }
      this.unchangedShare = share - (share >> SHARE_SHIFT);
      counted = true;
    }
    p.old.set(old);
    p.cur.set(cur);
    const slen = cur.length;
    const r = codec === 0
      ? p.exports.xbzrleEncode(PRIVATE_OLD, PRIVATE_CUR, slen, PRIVATE_OUT, dlen)
      : p.exports.xbrleEncode(PRIVATE_OLD, PRIVATE_CUR, slen, PRIVATE_OUT, dlen);
    if (!counted) this.unchangedShare = r === 0 ? share + ((SHARE_ONE - share) >> SHARE_SHIFT) : share - (share >> SHARE_SHIFT);
    if (r > 0) copyOut(p.out, out, r);
    return r;
  }

  isZeroPage(page: Uint8Array): boolean {
    return this.filledWith(page, 0);
  }

  dupPageByte(page: Uint8Array): number {
    if (page.length === 0) return -1;
    const b = page[0]!;
    return this.filledWith(page, b) ? b : -1;
  }

  /** True when every byte of `page` is `b`; a plain page is copied into the private memory first. */
  private filledWith(page: Uint8Array, b: number): boolean {
    const len = page.length;
    if ((len & 63) === 0) {
      if (this.arena.contains(page)) return this.exports.isFilled(page.byteOffset, len, b) === 1;
      const p = this.priv;
      if (p !== undefined && len <= SLOT) {
        p.old.set(page);
        return p.exports.isFilled(PRIVATE_OLD, len, b) === 1;
      }
    }
    return b === 0 ? this.ts.isZeroPage(page) : this.ts.dupPageByte(page) === b;
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
const privateWasmUrl = new URL('./simd-kernel-private.wasm', import.meta.url);

/** The kernel for plain pages; without it they are copied into the arena's shared slots. */
function loadPrivateKernel(): PrivateKernel | undefined {
  try {
    const memory = new WebAssembly.Memory({ initial: PRIVATE_PAGES, maximum: PRIVATE_PAGES });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(privateWasmUrl)), { env: { memory } });
    return {
      exports: instance.exports as unknown as WasmExports,
      old: new Uint8Array(memory.buffer, PRIVATE_OLD, SLOT),
      cur: new Uint8Array(memory.buffer, PRIVATE_CUR, SLOT),
      out: new Uint8Array(memory.buffer, PRIVATE_OUT, SLOT),
    };
  } catch {
    return undefined;
  }
}

/** The first `r` bytes of a slot to the caller's `out`: a loop for the short deltas of sparse pages. */
function copyOut(slot: Uint8Array, out: Uint8Array, r: number): void {
  if (r <= 64) for (let k = 0; k < r; k++) out[k] = slot[k]!;
  else out.set(slot.subarray(0, r));
}

/** Loads the SIMD kernel, or returns undefined (with the reason) when it cannot run here. */
export function loadWasmKernel(): { kernel?: DeltaKernel; reason?: string } {
  try {
    const bytes = readFileSync(wasmUrl);
    const module = new WebAssembly.Module(bytes);
    const arena = new CodecArena();
    arenas.push(arena);
    const instance = new WebAssembly.Instance(module, { env: { memory: arena.memory } });
    return { kernel: new WasmDeltaKernel(instance.exports as unknown as WasmExports, arena, loadPrivateKernel()) };
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
