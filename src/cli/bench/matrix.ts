/**
 * The benchmark matrix, guestperf-style (QEMU's tests/migration/guestperf): scenarios (a workload on a guest)
 * × comparisons (one axis varied from a baseline: codec, link bandwidth, cache size, cache
 * ways, guest size, auto-converge, auto-xbzrle). Every run has a fixed seed, so a matrix is the
 * same list of runs on every machine.
 *
 * Scale: the default guest is 64 MiB with a 20 ms downtime limit, which keeps RAM ÷ (link ×
 * limit) where a 1 GiB guest with QEMU's 300 ms is (the ratio that decides convergence), so a
 * matrix fits in minutes. max-time is three passes of the whole RAM over the link (3..12 s),
 * then the switchover is forced (stall-policy force), as guestperf's max_iters/max_time do.
 *
 * Working sets: RAM is prefilled (a guest whose memory is in use) and the sweeping workloads
 * (stride, seed, random, bwmem, video, mixed) write the first quarter of it, the size of the
 * baseline cache (25 % of RAM), so the cache-size comparison shows what a cache smaller than
 * the working set costs; xbzrle-doc writes its 16 MiB buffer and zipf spreads over all RAM.
 */
import type { WorkloadName, WorkloadOptions } from '../../guest/index.js';

export type Codec = 'none' | 'xbzrle' | 'xbrle';
export type MatrixName = 'tiny' | 'default' | 'full';

/** One migration to run. */
export interface RunSpec {
  /** Unique in a matrix: `comparison/scenario/variant`. */
  id: string;
  /** The axis this run belongs to (runs of one comparison differ in that axis only). */
  comparison: string;
  /** The value of the axis, as a label ("1 Gbit/s", "xbzrle", "25 %"). */
  variant: string;
  workload: WorkloadName;
  workloadOptions: WorkloadOptions;
  ramBytes: number;
  /** The share of RAM the workload writes (its region, from the start of RAM), percent. */
  regionPercent: number;
  vcpus: number;
  seed: number;
  /** Link speed in bits per second, 0 = unlimited. */
  linkBitsPerSecond: number;
  codec: Codec;
  /** Page cache as a share of RAM, percent (rounded to a power of two, as xbzrle-cache-size must be). */
  cachePercent: number;
  cacheWays: number;
  downtimeLimitMs: number;
  maxTimeMs: number;
  autoConverge: boolean;
  autoXbzrle: boolean;
  /** Fill RAM with seeded bytes first (a guest whose memory is in use); off for stride, whose check needs zeros. */
  prefill: boolean;
  /** Milliseconds of running before the guest's work rate is measured, and of measuring it. */
  warmupMs: number;
  measureMs: number;
  /** Other migration parameters, set last (e.g. cpu-throttle-initial). */
  parameters: Record<string, number | string>;
}

export const MBIT = 1_000_000;
export const GBIT = 1_000_000_000;
export const MIB = 1024 * 1024;

/** The link speeds of the literature: 100 Mbit/s, 1 GbE, 10 GbE and none. */
export const LINKS: readonly { label: string; bits: number }[] = [
  { label: '100 Mbit/s', bits: 100 * MBIT },
  { label: '1 Gbit/s', bits: GBIT },
  { label: '10 Gbit/s', bits: 10 * GBIT },
  { label: 'unlimited', bits: 0 },
];

export function linkLabel(bits: number): string {
  return LINKS.find((l) => l.bits === bits)?.label ?? (bits === 0 ? 'unlimited' : `${bits / MBIT} Mbit/s`);
}

/** xbzrle-cache-size for a share of RAM: the power of two nearest to it (log scale), at least 64 KiB. */
export function cacheBytesFor(ramBytes: number, percent: number): number {
  const want = (ramBytes * percent) / 100;
  return Math.max(65536, 2 ** Math.round(Math.log2(want)));
}

/** Three passes of the whole RAM over the link, within 3..12 s (unlimited: 3 s). */
export function maxTimeFor(ramBytes: number, linkBits: number): number {
  if (linkBits === 0) return 3000;
  return Math.round(Math.min(12_000, Math.max(3000, (3 * ramBytes * 8 * 1000) / linkBits)));
}

interface Base {
  ramBytes: number;
  linkBits: number;
  downtimeLimitMs: number;
  cachePercent: number;
  cacheWays: number;
  warmupMs: number;
  measureMs: number;
}

/** The share of RAM each workload writes in the matrices (see above). */
const WORKING_SET_PERCENT: Record<WorkloadName, number> = { idle: 100, stride: 25, seed: 25, random: 25, 'xbzrle-doc': 100, bwmem: 25, zipf: 100, video: 25, mixed: 25 };

/**
 * Knobs the matrices give a workload unless a run says otherwise: zipf at 50,000 row updates a
 * second (at full speed its cold writes, a tenth of millions a second, would dirty every page
 * of RAM in every pass, which no database does); video at 40,000 pages a second (8 frames of
 * 2 MiB in its 16 MiB ring: 78 frames a second, 164 MB/s of frame writes, more than 1 GbE
 * carries, of which the moving band, a fifth, really changes).
 */
const WORKLOAD_OPTIONS: Partial<Record<WorkloadName, WorkloadOptions>> = { zipf: { rate: 50_000 }, video: { rate: 40_000 } };

function spec(b: Base, comparison: string, variant: string, workload: WorkloadName, over: Partial<RunSpec> = {}): RunSpec {
  const ramBytes = over.ramBytes ?? b.ramBytes;
  const linkBitsPerSecond = over.linkBitsPerSecond ?? b.linkBits;
  const codec = over.codec ?? 'xbzrle';
  const r: RunSpec = {
    id: '',
    comparison,
    variant,
    workload,
    workloadOptions: WORKLOAD_OPTIONS[workload] ?? {},
    ramBytes,
    regionPercent: WORKING_SET_PERCENT[workload],
    vcpus: 1,
    seed: 1,
    linkBitsPerSecond,
    codec,
    cachePercent: b.cachePercent,
    cacheWays: b.cacheWays,
    downtimeLimitMs: b.downtimeLimitMs,
    maxTimeMs: maxTimeFor(ramBytes, linkBitsPerSecond),
    autoConverge: false,
    autoXbzrle: false,
    prefill: workload !== 'stride',
    warmupMs: b.warmupMs,
    measureMs: b.measureMs,
    parameters: {},
    ...over,
  };
  const knobs = JSON.stringify(r.workloadOptions) !== JSON.stringify(WORKLOAD_OPTIONS[workload] ?? {});
  r.id = `${comparison}/${workload}${r.regionPercent !== WORKING_SET_PERCENT[workload] ? `[${r.regionPercent}%]` : ''}${knobs && Object.keys(r.workloadOptions).length ? '(' + Object.entries(r.workloadOptions).map(([k, v]) => `${k}=${String(v)}`).join(',') + ')' : ''}/${variant}`;
  return r;
}

/** Workloads rated so that the guest writes about as fast as a 1 Gbit/s link drains (for auto-converge). */
const CONVERGE_RATE = { rate: 40_000 };

/** The runs of a matrix, in the order they run. */
export function matrix(name: MatrixName): RunSpec[] {
  switch (name) {
    case 'tiny':
      return tiny();
    case 'default':
      return defaultMatrix();
    case 'full':
      return fullMatrix();
  }
}

/** CI: an 8 MiB guest, two workloads × two codecs, auto-xbzrle on one of them, auto-converge with and without; under a minute. */
function tiny(): RunSpec[] {
  const b: Base = { ramBytes: 8 * MIB, linkBits: 100 * MBIT, downtimeLimitMs: 10, cachePercent: 50, cacheWays: 2, warmupMs: 100, measureMs: 200 };
  const out: RunSpec[] = [];
  // xbzrle-doc's buffer cut to 2 MiB so that it fits the 4 MiB cache: sparse writes that converge only with XBZRLE
  for (const [w, workloadOptions] of [['xbzrle-doc', { bufferBytes: 2 * MIB }], ['bwmem', {}]] as [WorkloadName, WorkloadOptions][]) {
    for (const codec of ['none', 'xbzrle'] as Codec[]) out.push(spec(b, 'codec', codec, w, { codec, workloadOptions, maxTimeMs: 2500 }));
  }
  out.push(spec(b, 'auto-xbzrle', 'xbzrle+auto-xbzrle', 'bwmem', { autoXbzrle: true, maxTimeMs: 2500 }));
  // 4000 random pages/s against ~3000 the link drains; steps of 30 then +20 % keep it short
  const converge = { codec: 'none' as Codec, workloadOptions: { rate: 4000 }, regionPercent: 100, downtimeLimitMs: 50 };
  out.push(spec(b, 'auto-converge', 'auto-converge', 'random', { ...converge, autoConverge: true, maxTimeMs: 15_000, parameters: { 'cpu-throttle-initial': 30, 'cpu-throttle-increment': 20 } }));
  // the same guest without it, for the report's comparison: it cannot converge and is forced at max-time
  out.push(spec(b, 'auto-converge', 'off', 'random', { ...converge, maxTimeMs: 2500 }));
  return out;
}

const ALL: readonly WorkloadName[] = ['idle', 'stride', 'seed', 'random', 'xbzrle-doc', 'bwmem', 'zipf', 'video', 'mixed'];

/** About 11 minutes a repetition on a quiet 2-core machine (25 for two under load): see docs/benchmarks/matrix.md. */
function defaultMatrix(): RunSpec[] {
  const b: Base = { ramBytes: 64 * MIB, linkBits: GBIT, downtimeLimitMs: 20, cachePercent: 25, cacheWays: 2, warmupMs: 300, measureMs: 600 };
  const out: RunSpec[] = [];
  // 1. codec × workload on 1 GbE
  for (const w of ALL) for (const codec of ['none', 'xbzrle', 'xbrle'] as Codec[]) out.push(spec(b, 'codec', codec, w, { codec }));
  // 2. link bandwidth × codec (1 Gbit/s is in 1.)
  for (const w of ['seed', 'xbzrle-doc', 'zipf', 'video', 'bwmem', 'random'] as WorkloadName[]) {
    for (const l of LINKS.filter((x) => x.bits !== GBIT)) {
      for (const codec of ['none', 'xbzrle'] as Codec[]) out.push(spec(b, 'bandwidth', `${l.label} ${codec}`, w, { codec, linkBitsPerSecond: l.bits }));
    }
  }
  // 3. cache size (25 % is in 1.)
  for (const w of ['zipf', 'video', 'seed'] as WorkloadName[]) {
    for (const pct of [5, 10, 50]) out.push(spec(b, 'cache-size', `${pct} %`, w, { cachePercent: pct }));
  }
  // 4. cache ways (2 is in 1.)
  for (const w of ['zipf', 'mixed'] as WorkloadName[]) for (const ways of [1, 4]) out.push(spec(b, 'cache-ways', `${ways}-way`, w, { cacheWays: ways }));
  // 5. guest size
  for (const w of ['xbzrle-doc', 'zipf'] as WorkloadName[]) {
    for (const mib of [16, 256]) for (const codec of ['none', 'xbzrle'] as Codec[]) out.push(spec(b, 'guest-size', `${mib} MiB ${codec}`, w, { ramBytes: mib * MIB, codec }));
  }
  // 6. auto-converge on a guest that writes as fast as the link drains
  for (const w of ['random', 'bwmem'] as WorkloadName[]) {
    for (const ac of [false, true]) {
      out.push(spec(b, 'auto-converge', ac ? 'auto-converge' : 'off', w, { codec: 'none', workloadOptions: CONVERGE_RATE, regionPercent: 100, autoConverge: ac, maxTimeMs: ac ? 30_000 : 8000 }));
    }
  }
  // 7. auto-xbzrle where delta compression does not pay, and where it does
  for (const w of ['random', 'bwmem', 'zipf'] as WorkloadName[]) {
    for (const l of [GBIT, 10 * GBIT]) out.push(spec(b, 'auto-xbzrle', `${linkLabel(l)} xbzrle+auto`, w, { autoXbzrle: true, linkBitsPerSecond: l }));
  }
  return out;
}

/** Every workload × link × codec, the cache sweep on every workload, guests to 1 GiB: hours. */
function fullMatrix(): RunSpec[] {
  const b: Base = { ramBytes: 256 * MIB, linkBits: GBIT, downtimeLimitMs: 75, cachePercent: 25, cacheWays: 2, warmupMs: 500, measureMs: 1000 };
  const out: RunSpec[] = [];
  for (const w of ALL) for (const l of LINKS) for (const codec of ['none', 'xbzrle', 'xbrle'] as Codec[]) out.push(spec(b, 'bandwidth', `${l.label} ${codec}`, w, { codec, linkBitsPerSecond: l.bits }));
  for (const w of ALL) for (const pct of [5, 10, 25, 50]) for (const ways of [1, 2, 4]) out.push(spec(b, 'cache', `${pct} % ${ways}-way`, w, { cachePercent: pct, cacheWays: ways }));
  for (const w of ALL) {
    for (const mib of [64, 256, 1024]) for (const codec of ['none', 'xbzrle'] as Codec[]) out.push(spec(b, 'guest-size', `${mib} MiB ${codec}`, w, { ramBytes: mib * MIB, codec, downtimeLimitMs: Math.round((300 * mib) / 1024) }));
  }
  for (const w of ['random', 'bwmem', 'seed', 'zipf'] as WorkloadName[]) {
    for (const ac of [false, true]) out.push(spec(b, 'auto-converge', ac ? 'auto-converge' : 'off', w, { codec: 'none', workloadOptions: CONVERGE_RATE, regionPercent: 100, autoConverge: ac, maxTimeMs: ac ? 60_000 : 16_000 }));
  }
  for (const w of ALL) for (const l of LINKS) out.push(spec(b, 'auto-xbzrle', `${l.label} xbzrle+auto`, w, { autoXbzrle: true, linkBitsPerSecond: l.bits }));
  return out;
}
