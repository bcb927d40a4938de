/**
 * The checks a destination runs on verified RAM for the guests whose pattern it knows: the
 * synthetic stride workload (one boundary in its stride) and livemig's boot-sector PC guests
 * (their pattern, at most one boundary). The engine knows no pattern: these reach it as
 * `IncomingOptions.checks`.
 */
import { BOOT_IMAGES, Guest, PcMachine, checkStride, isBootImageName } from '../guest/index.js';
import type { GuestMemory, VirtualMachine } from '../guest/index.js';

/** The pattern checks for a received machine, under the names `info migrate` shows them by. */
export function patternChecks(memory: GuestMemory, vm: VirtualMachine | undefined): Record<string, unknown> {
  if (vm instanceof Guest && vm.workload === 'stride') return { 'stride-check': checkStride(memory) };
  if (vm instanceof PcMachine && vm.config.bootImage !== undefined && isBootImageName(vm.config.bootImage)) {
    const c = BOOT_IMAGES[vm.config.bootImage].check(vm.ram, vm.config.ramBytes);
    return { 'pattern-check': { image: vm.config.bootImage, ok: c.ok, passes: c.passes, message: c.message } };
  }
  return {};
}
