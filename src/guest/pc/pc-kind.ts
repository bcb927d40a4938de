/**
 * The destination's builder of the v86 PC: from the configuration the source sent, the same
 * PC, stopped, whose RAM the stream then fills in place; then v86's state restored over it.
 */
import type { PreparedVm, VmKind } from '../vm.js';
import { pcMediaFromConfig } from './pc-config.js';
import { PcMachine } from './pc-machine.js';
import type { PcMachineOptions } from './pc-machine.js';

/** A {@link VmKind} for the PC; `serial` gets what the guest writes to COM1 once it runs here. */
export function pcKind(options: Pick<PcMachineOptions, 'serial'> = {}): VmKind {
  return {
    async prepare(config): Promise<PreparedVm> {
      const { config: c, media } = pcMediaFromConfig(config);
      const pc = await PcMachine.create(c, media, { ...options, autostart: false });
      return {
        memory: pc.memory,
        // v86 wrote its BIOS and boot media into RAM as it loaded
        memoryIsZero: false,
        start: async (state, { paused }) => {
          await pc.restore(state);
          if (!paused) pc.resume();
          return pc;
        },
        discard: () => pc.stop(),
      };
    },
  };
}
