/**
 * The modules instantiated on a guest RAM block's own WebAssembly.Memory (the fill scanner, the
 * page128 hasher, the copy): each is built twice, `NAME.wasm` for shared memories and
 * `NAME-unshared.wasm` for unshared ones (a PC's RAM lies in v86's own memory), compiled once
 * per process and instantiated once per memory.
 */
import { readFileSync } from 'node:fs';

export class InPlaceModule {
  private readonly compiled: { shared?: WebAssembly.Module | null; unshared?: WebAssembly.Module | null } = {};

  /** `name`: the module's file name in this directory, without `.wasm`. */
  constructor(private readonly name: string) {}

  /** The module's exports on `memory`, or undefined where it cannot load or be instantiated on it. */
  exportsOn<T>(memory: WebAssembly.Memory): T | undefined {
    const kind = memory.buffer instanceof SharedArrayBuffer ? 'shared' : 'unshared';
    if (this.compiled[kind] === undefined) {
      try {
        const file = kind === 'shared' ? `./${this.name}.wasm` : `./${this.name}-unshared.wasm`;
        this.compiled[kind] = new WebAssembly.Module(readFileSync(new URL(file, import.meta.url)));
      } catch {
        this.compiled[kind] = null;
      }
    }
    const module = this.compiled[kind];
    if (module === null || module === undefined) return undefined;
    try {
      return new WebAssembly.Instance(module, { env: { memory } }).exports as T;
    } catch {
      return undefined; // e.g. a memory of the other kind than its buffer says
    }
  }
}
