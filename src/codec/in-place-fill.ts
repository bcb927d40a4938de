/**
 * The fill test run where the page lies: the SIMD kernel's `isFilled`, instantiated on the
 * `WebAssembly.Memory` that holds a guest RAM block, so that the source can tell a zero (or
 * duplicate) page from one to send without first copying the page into the codec arena. The
 * scanner only reads (its module has no data segment; the build checks that).
 *
 * Where the SIMD kernel is not in use (`LIVEMIG_KERNEL=ts`, or no WebAssembly SIMD), there is
 * no scanner and callers keep their copying path.
 */
import { InvalidArgumentError } from '../errors.js';
import { InPlaceModule } from './in-place-module.js';
import { selectedKernel } from './kernel.js';

/** 1 when the `len` bytes at `offset` of the memory all equal `byte`, else 0 (`len` a multiple of 64). */
export type InPlaceFillTest = (offset: number, len: number, byte: number) => number;

const scanner = new InPlaceModule('fill-scan');

/**
 * A fill test on `memory`, or undefined where the SIMD kernel is not the selected kernel (or the
 * scanner cannot load). One instance per memory: cache it beside the memory.
 */
export function inPlaceFillTest(memory: WebAssembly.Memory): InPlaceFillTest | undefined {
  if (!(memory instanceof WebAssembly.Memory)) throw new InvalidArgumentError('inPlaceFillTest: expected a WebAssembly.Memory');
  if (selectedKernel().name !== 'wasm-simd') return undefined;
  return scanner.exportsOn<{ isFilled: InPlaceFillTest }>(memory)?.isFilled;
}
