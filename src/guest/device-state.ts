import { InvalidArgumentError } from '../errors.js';
import type { GuestMemory } from './guest-memory.js';
import { PRNG_STATE_WORDS } from './prng.js';
import { resolveRegion } from './region.js';
import type { ResolvedRegion } from './region.js';
import type { VcpuPosition } from './vcpu-workload.js';
import { checkSeed, checkVcpus, checkWorkload, resolveWorkloadOptions, vcpuPageRange } from './workload-plan.js';
import type { ResolvedWorkloadOptions, WorkloadName } from './workload-plan.js';

/**
 * The guest's non-RAM state: its workload and where every vCPU is in it. It travels as UTF-8
 * JSON (the migration puts it in a device section after RAM):
 *
 * ```
 * { "format": "livemig-guest", "version": 1,
 *   "workload": "stride", "vcpus": 2, "seed": 1,
 *   "region": { "offsetBytes": 0, "sizeBytes": 8388608 },
 *   "ram": [ { "idstr": "pc.ram", "sizeBytes": 8388608 } ],
 *   "vcpu": [ { "page": 1234, "prng": [u32, u32, u32, u32], "workDone": 567890 }, ... ],
 *   "options": { "rate": 0, "hotFraction": 0.1, ... },
 *   "lastStepWallMs": 1764090000123.4 }
 * ```
 * `ram` lets a destination refuse RAM laid out differently from the source's. `options` (the
 * workload's knobs) and `lastStepWallMs` (wall-clock time of the guest's last write on the
 * source, for the downtime the guest saw) are optional: absent, the knobs take their defaults.
 */
export interface GuestDeviceState {
  workload: WorkloadName;
  vcpus: number;
  seed: number;
  region: ResolvedRegion;
  vcpu: VcpuPosition[];
  /** The workload's knobs (defaults when the state carried none). */
  options?: ResolvedWorkloadOptions;
  /** Wall-clock ms of the last batch any vCPU finished on the source (0 = none). */
  lastStepWallMs?: number;
}

const FORMAT = 'livemig-guest';
const VERSION = 1;

/** Serializes the device state of a paused guest. */
export function encodeDeviceState(memory: GuestMemory, s: GuestDeviceState): Uint8Array {
  const doc = {
    format: FORMAT,
    version: VERSION,
    workload: s.workload,
    vcpus: s.vcpus,
    seed: s.seed,
    region: { offsetBytes: s.region.offsetBytes, sizeBytes: s.region.sizeBytes },
    ram: memory.blocks.map((b) => ({ idstr: b.idstr, sizeBytes: b.sizeBytes })),
    vcpu: s.vcpu.map((v) => ({ page: v.page, prng: [...v.prng], workDone: v.workDone })),
    ...(s.options ? { options: { ...s.options } } : {}),
    ...(s.lastStepWallMs !== undefined ? { lastStepWallMs: s.lastStepWallMs } : {}),
  };
  return new TextEncoder().encode(JSON.stringify(doc));
}

/**
 * Parses and checks a device state against the destination's RAM.
 * @throws InvalidArgumentError naming the first field that is missing, malformed or
 *   inconsistent (e.g. a RAM layout that differs from the source's, a vCPU page outside its share).
 */
export function decodeDeviceState(memory: GuestMemory, bytes: Uint8Array): GuestDeviceState {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new InvalidArgumentError(`guest device state is not UTF-8 JSON (${bytes.length} bytes)`, { cause: e });
  }
  const d = record(doc, 'device state');
  if (d.format !== FORMAT || d.version !== VERSION) {
    throw new InvalidArgumentError(`guest device state: expected format ${FORMAT} version ${VERSION}, got ${String(d.format)} ${String(d.version)}`);
  }
  const ram = list(d.ram, 'ram');
  if (ram.length !== memory.blocks.length) {
    throw new InvalidArgumentError(`guest device state: source had ${ram.length} RAM blocks, destination has ${memory.blocks.length}`);
  }
  ram.forEach((r, i) => {
    const b = memory.blocks[i]!;
    const rb = record(r, `ram[${i}]`);
    if (rb.idstr !== b.idstr || rb.sizeBytes !== b.sizeBytes) {
      throw new InvalidArgumentError(
        `guest device state: source block ${i} is ${JSON.stringify(rb.idstr)} of ${String(rb.sizeBytes)} bytes, destination has ${JSON.stringify(b.idstr)} of ${b.sizeBytes}`,
      );
    }
  });
  const workload = checkWorkload(d.workload);
  const vcpus = checkVcpus(d.vcpus);
  const seed = checkSeed(d.seed);
  const rs = record(d.region, 'region');
  const region = resolveRegion(memory, { offsetBytes: num(rs.offsetBytes, 'region.offsetBytes'), sizeBytes: num(rs.sizeBytes, 'region.sizeBytes') });
  let options: ResolvedWorkloadOptions;
  try {
    options = resolveWorkloadOptions(workload, d.options, region.pageCount, vcpus);
  } catch (e) {
    throw new InvalidArgumentError(`guest device state: ${(e as Error).message}`, { cause: e });
  }
  const lastStepWallMs = d.lastStepWallMs === undefined ? 0 : num(d.lastStepWallMs, 'lastStepWallMs');
  const cpus = list(d.vcpu, 'vcpu');
  if (cpus.length !== vcpus) throw new InvalidArgumentError(`guest device state: ${cpus.length} vCPU entries for ${vcpus} vCPUs`);
  const vcpu = cpus.map((c, i): VcpuPosition => {
    const v = record(c, `vcpu[${i}]`);
    const page = num(v.page, `vcpu[${i}].page`);
    const range = vcpuPageRange(workload, vcpus, i, region.pageCount, options);
    const empty = range.start === range.end;
    if (!Number.isInteger(page) || (empty ? page !== range.start : page < range.start || page >= range.end)) {
      throw new InvalidArgumentError(`guest device state: vcpu[${i}].page ${page} outside its pages ${range.start}..${range.end - 1}`);
    }
    const prng = list(v.prng, `vcpu[${i}].prng`);
    if (prng.length !== PRNG_STATE_WORDS || !prng.every((x) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffffffff)) {
      throw new InvalidArgumentError(`guest device state: vcpu[${i}].prng must be ${PRNG_STATE_WORDS} uint32 values`);
    }
    if ((workload === 'random' || workload === 'zipf' || workload === 'mixed') && !empty && prng.every((x) => x === 0)) {
      throw new InvalidArgumentError(`guest device state: vcpu[${i}].prng is all zero (not a xoshiro128** state)`);
    }
    const workDone = num(v.workDone, `vcpu[${i}].workDone`);
    if (!Number.isSafeInteger(workDone) || workDone < 0) {
      throw new InvalidArgumentError(`guest device state: vcpu[${i}].workDone ${workDone} is not a count`);
    }
    return { page, prng: prng as number[], workDone };
  });
  return { workload, vcpus, seed, region, vcpu, options, lastStepWallMs };
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgumentError(`guest device state: ${what} must be an object`);
  return v as Record<string, unknown>;
}

function list(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new InvalidArgumentError(`guest device state: ${what} must be an array`);
  return v;
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`guest device state: ${what} must be a number`);
  return v;
}
