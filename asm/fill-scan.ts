// The in-place fill scanner (AssemblyScript): instantiated on a guest RAM block's own
// WebAssembly.Memory, so the source tests pages for zero (or any fill byte) where they lie,
// without copying them first. It must never write memory: no static data, no runtime heap
// (the build checks that the module has no data segment).
export { isFilled } from './fill';
