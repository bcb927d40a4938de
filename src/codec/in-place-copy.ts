/**
 * A copy within one WebAssembly.Memory, by byte addresses in it: `memory.copy` (asm/ram-copy.ts),
 * a plain memmove at any alignment. For a page that lies in the same memory as the RAM it goes
 * to (a destination that reads the stream into buffers placed beside its RAM): a typed-array
 * copy into shared memory is V8's relaxed, word-at-a-time copy, and needs a bounce through
 * private memory when the two sides are not aligned alike (see copyBytes).
 */
import { InPlaceModule } from './in-place-module.js';
import { InvalidArgumentError } from '../errors.js';

/** Copies `n` bytes from byte `src` to byte `dst` of the memory it was made for. */
export type InPlaceCopy = (dst: number, src: number, n: number) => void;

const copyModule = new InPlaceModule('ram-copy');

/** The in-place copy on `memory`, or undefined where its module cannot load here (callers keep copyBytes). */
export function inPlaceCopy(memory: WebAssembly.Memory): InPlaceCopy | undefined {
  if (!(memory instanceof WebAssembly.Memory)) throw new InvalidArgumentError('inPlaceCopy: expected a WebAssembly.Memory');
  return copyModule.exportsOn<{ copy: InPlaceCopy }>(memory)?.copy;
}
