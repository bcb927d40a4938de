/**
 * A copy within one WebAssembly.Memory, by byte addresses in it: `memory.copy` (asm/ram-copy.ts),
 * a plain memmove at any alignment. For a page that lies in the same memory as the RAM it goes
 * to (a destination that reads the stream into buffers placed beside its RAM): a typed-array
 * copy into shared memory is V8's relaxed, word-at-a-time copy, and needs a bounce through
 * private memory when the two sides are not aligned alike (see copyBytes).
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../errors.js';

/** Copies `n` bytes from byte `src` to byte `dst` of the memory it was made for. */
export type InPlaceCopy = (dst: number, src: number, n: number) => void;

const urls = { shared: new URL('./ram-copy.wasm', import.meta.url), unshared: new URL('./ram-copy-unshared.wasm', import.meta.url) };
const modules: { shared?: WebAssembly.Module | null; unshared?: WebAssembly.Module | null } = {};

/** The in-place copy on `memory`, or undefined where its module cannot load here (callers keep copyBytes). */
export function inPlaceCopy(memory: WebAssembly.Memory): InPlaceCopy | undefined {
  if (!(memory instanceof WebAssembly.Memory)) throw new InvalidArgumentError('inPlaceCopy: expected a WebAssembly.Memory');
  const kind = memory.buffer instanceof SharedArrayBuffer ? 'shared' : 'unshared';
  if (modules[kind] === undefined) {
    try {
      modules[kind] = new WebAssembly.Module(readFileSync(urls[kind]));
    } catch {
      modules[kind] = null;
    }
  }
  const module = modules[kind];
  if (module === null || module === undefined) return undefined;
  try {
    return (new WebAssembly.Instance(module, { env: { memory } }).exports as { copy: InPlaceCopy }).copy;
  } catch {
    return undefined;
  }
}
