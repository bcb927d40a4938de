// The in-place copy (AssemblyScript): instantiated on a guest RAM block's own
// WebAssembly.Memory, it copies bytes within that memory with memory.copy, a plain memmove at
// any alignment. A typed-array copy into shared memory is a relaxed, word-at-a-time copy, and
// one byte at a time when the two sides are not aligned alike. No static data, no runtime
// heap: instantiating it writes nothing (the build checks that the module has no data segment).

/** Copies `n` bytes from byte `src` to byte `dst` of the memory (the ranges may overlap). */
export function copy(dst: usize, src: usize, n: usize): void {
  memory.copy(dst, src, n);
}
