/**
 * The checks a destination runs on verified RAM for the guests whose pattern it knows: the
 * synthetic stride workload (one boundary in its stride). The engine knows no pattern: these
 * reach it as `IncomingOptions.checks`.
 */
import { Guest, checkStride } from '../guest/index.js';
import type { GuestMemory, VirtualMachine } from '../guest/index.js';

/** The pattern checks for a received machine, under the names `info migrate` shows them by. */
export function patternChecks(memory: GuestMemory, vm: VirtualMachine | undefined): Record<string, unknown> {
  if (vm instanceof Guest && vm.workload === 'stride') return { 'stride-check': checkStride(memory) };
  return {};
}
