import { InvalidArgumentError } from '../errors.js';

/**
 * The synthetic workloads a guest can run:
 * - `idle`: writes nothing (a quiet guest; migration converges at once).
 * - `stride`: QEMU's migration-test guest: one vCPU increments byte 0 of every page of the
 *   region in address order, forever; other vCPUs idle. {@link checkStride} verifies it.
 * - `seed`: the seed's load generator: for each page i of the region,
 *   `buf[i * 4096 + ((1234 + i) & 4095)] += i & 255`, repeated; pages split among vCPUs.
 * - `random`: guestperf's stress: every 8-byte word of the region XORed with PRNG output,
 *   page after page (incompressible, XBZRLE-hostile); pages split among vCPUs.
 */
export type WorkloadName = 'idle' | 'stride' | 'seed' | 'random';

/** Every workload name, for option parsing and messages. */
export const WORKLOAD_NAMES: readonly WorkloadName[] = ['idle', 'stride', 'seed', 'random'];

/** Most vCPUs a guest may have (one worker thread each). */
export const MAX_VCPUS = 64;

/** @throws InvalidArgumentError for an unknown workload name. */
export function checkWorkload(name: unknown): WorkloadName {
  if (typeof name !== 'string' || !(WORKLOAD_NAMES as readonly string[]).includes(name)) {
    throw new InvalidArgumentError(`unknown workload ${JSON.stringify(name)}: expected one of ${WORKLOAD_NAMES.join(', ')}`);
  }
  return name as WorkloadName;
}

/** @throws InvalidArgumentError unless 1 <= vcpus <= MAX_VCPUS. */
export function checkVcpus(vcpus: unknown): number {
  if (typeof vcpus !== 'number' || !Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) {
    throw new InvalidArgumentError(`vcpus must be an integer 1..${MAX_VCPUS}, got ${String(vcpus)}`);
  }
  return vcpus;
}

/** @throws InvalidArgumentError unless the seed is an integer 0..2^32-1. */
export function checkSeed(seed: unknown): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new InvalidArgumentError(`seed must be an integer 0..4294967295, got ${String(seed)}`);
  }
  return seed;
}

/**
 * The region pages `[start, end)` (region-relative) a vCPU works on. `stride` gives the whole
 * region to vCPU 0 (one incrementer keeps the single-boundary invariant); `seed` and `random`
 * split it into contiguous shares; `idle` gives nothing. An empty range means the vCPU idles.
 */
export function vcpuPageRange(workload: WorkloadName, vcpus: number, vcpu: number, regionPages: number): { start: number; end: number } {
  switch (workload) {
    case 'idle':
      return { start: 0, end: 0 };
    case 'stride':
      return vcpu === 0 ? { start: 0, end: regionPages } : { start: 0, end: 0 };
    case 'seed':
    case 'random':
      return { start: Math.floor((vcpu * regionPages) / vcpus), end: Math.floor(((vcpu + 1) * regionPages) / vcpus) };
  }
}
