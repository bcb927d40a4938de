/**
 * The destination's builder of livemig's synthetic guest: fresh shared RAM for the stream's
 * blocks (or RAM prepared beforehand, as QEMU's destination is started with `-m`), then the
 * workload resumed from its device state.
 */
import { Guest } from './guest.js';
import type { DirtyLogKind } from './guest.js';
import { GuestMemory } from './guest-memory.js';
import type { PreparedVm, VirtualMachine, VmKind } from './vm.js';

export interface SyntheticKindOptions {
  /** The dirty log of the resumed guest (default `explicit`). */
  dirtyLog?: DirtyLogKind;
  /**
   * RAM made before the stream arrives (a destination started with `--ram`); the stream's
   * blocks must match it. `memoryIsZero`: it is all zero.
   */
  memory?: GuestMemory;
  memoryIsZero?: boolean;
}

/** A {@link VmKind} for the synthetic guest. */
export function syntheticKind(options: SyntheticKindOptions = {}): VmKind {
  let used = false;
  return {
    prepare(_config, blocks) {
      if (options.memory !== undefined) {
        // a second migration into the same RAM (after a failed one) finds the first one's pages
        const zero = options.memoryIsZero === true && !used;
        used = true;
        return Promise.resolve(preparedSynthetic(options.memory, zero, options.dirtyLog));
      }
      const memory = new GuestMemory(blocks.map((b) => ({ idstr: b.idstr, sizeBytes: b.lengthBytes })));
      return Promise.resolve(preparedSynthetic(memory, true, options.dirtyLog));
    },
  };
}

/** The synthetic guest's PreparedVm over RAM that exists already. */
export function preparedSynthetic(memory: GuestMemory, memoryIsZero: boolean, dirtyLog?: DirtyLogKind): PreparedVm {
  return {
    memory,
    memoryIsZero,
    start: (deviceState, { paused }): Promise<VirtualMachine> => Guest.resumeFrom(memory, deviceState, { paused, ...(dirtyLog ? { dirtyLog } : {}) }),
    discard: () => Promise.resolve(),
  };
}
