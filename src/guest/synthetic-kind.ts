/**
 * The destination's builder of livemig's synthetic guest: fresh shared RAM for the stream's
 * blocks (or RAM prepared beforehand, as QEMU's destination is started with `-m`), then the
 * workload resumed from its device state.
 */
import { Guest } from './guest.js';
import type { DirtyLogKind } from './guest.js';
import { GuestMemory } from './guest-memory.js';
import { ParkedVcpus } from './parked-vcpus.js';
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
  /** Park the first vCPU thread while RAM arrives (default true; off for a destination that will not resume). */
  parkVcpus?: boolean;
  /** RAM allocated here sets this many bytes aside for I/O (GuestMemoryOptions.ioBytes; default none). */
  ioBytes?: number;
}

/** A {@link VmKind} for the synthetic guest. */
export function syntheticKind(options: SyntheticKindOptions = {}): VmKind {
  let used = false;
  const park = options.parkVcpus !== false;
  /** vCPU threads started by startEarly, for the next prepare. */
  let early: ParkedVcpus | undefined;
  const parked = (): ParkedVcpus => {
    const p = early ?? ParkedVcpus.start(park ? PARKED_VCPUS : 0);
    early = undefined;
    return p;
  };
  return {
    prepare(_config, blocks) {
      if (options.memory !== undefined) {
        // a second migration into the same RAM (after a failed one) finds the first one's pages
        const zero = options.memoryIsZero === true && !used;
        used = true;
        return Promise.resolve(preparedSynthetic(options.memory, zero, options.dirtyLog, parked()));
      }
      const memory = new GuestMemory(blocks.map((b) => ({ idstr: b.idstr, sizeBytes: b.lengthBytes })), { ioBytes: options.ioBytes ?? 0 });
      return Promise.resolve(preparedSynthetic(memory, true, options.dirtyLog, parked()));
    },
    startEarly() {
      if (!park) return Promise.resolve();
      early ??= ParkedVcpus.start(PARKED_VCPUS);
      return early.ready;
    },
  };
}

/** vCPU threads parked while RAM arrives (the machine's vCPU count comes with its device state; more start then). */
const PARKED_VCPUS = 1;

/**
 * The synthetic guest's PreparedVm over RAM that exists already. Its first vCPU thread waits,
 * parked (started now unless given), so that the switchover does not wait for a thread to start.
 */
export function preparedSynthetic(memory: GuestMemory, memoryIsZero: boolean, dirtyLog?: DirtyLogKind, park: boolean | ParkedVcpus = true): PreparedVm {
  const parked = park instanceof ParkedVcpus ? park : ParkedVcpus.start(park ? PARKED_VCPUS : 0);
  return {
    memory,
    memoryIsZero,
    start: async (deviceState, { paused }): Promise<VirtualMachine> => {
      try {
        return await Guest.resumeFrom(memory, deviceState, { paused, parked, ...(dirtyLog ? { dirtyLog } : {}) });
      } finally {
        void parked.close(); // the ones not used
      }
    },
    discard: () => parked.close(),
  };
}
