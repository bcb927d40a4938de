import { InvalidArgumentError } from '../errors.js';

/**
 * The synthetic workloads a guest can run (each one models a kind of guest the migration
 * literature measures; `rate` throttles any of them to a fixed pace):
 * - `idle`: writes nothing (a quiet guest; migration converges at once).
 * - `stride`: QEMU's migration-test guest: one vCPU increments byte 0 of every page of the
 *   region in address order, forever; other vCPUs idle. {@link checkStride} verifies it.
 * - `seed`: the load generator of XBRLE (2011), the patch livemig started from: for each
 *   page i of the region, `buf[i * 4096 + ((1234 + i) & 4095)] += i & 255`, repeated; pages split among vCPUs.
 * - `random`: guestperf's stress: every 8-byte word of the region XORed with PRNG output,
 *   page after page (incompressible, XBZRLE-hostile); pages split among vCPUs.
 * - `xbzrle-doc`: the dirtier of QEMU's docs/xbzrle.txt: a 16 MiB buffer (`bufferBytes`) in
 *   which one byte of every KiB is incremented, sweep after sweep (4 bytes of each page change:
 *   sparse, the case delta compression was made for).
 * - `bwmem`: LMbench bw_mem's write test: sequential full-page stores over the region. Each
 *   sweep stores new values, so every byte of a page changes (dense: XBZRLE overflows, the
 *   cache only costs).
 * - `zipf`: an in-memory database: each write updates `wordsPerWrite` 32-bit words (a row) at
 *   a random place of one page; `hotWrites` of the writes go to a hot set of `hotFraction` of
 *   the pages, spread over the region and ranked Zipf-like (rank k drawn with probability
 *   ∝ log((k+2)/(k+1)), so a few pages take most of the updates); the rest go to any page.
 *   Hot set versus cache size decides the cache's miss rate.
 * - `video`: a transcoder's ring of `frames` frame buffers of `frameBytes`, rewritten in turn:
 *   every page of a frame is written, but only a moving band (`motion` of the frame's pages)
 *   differs from what the buffer held `frames` frames earlier (a static scene with motion).
 * - `mixed`: several of these at once in one region: a zipf database on 40 % of each vCPU's
 *   share, a video ring on 30 %, the xbzrle-doc buffer on 20 % and bwmem on 10 %; the vCPU
 *   takes turns between them in blocks of 64 writes.
 */
export type WorkloadName = 'idle' | 'stride' | 'seed' | 'random' | 'xbzrle-doc' | 'bwmem' | 'zipf' | 'video' | 'mixed';

/** Every workload name, for option parsing and messages. */
export const WORKLOAD_NAMES: readonly WorkloadName[] = ['idle', 'stride', 'seed', 'random', 'xbzrle-doc', 'bwmem', 'zipf', 'video', 'mixed'];

/** Most vCPUs a guest may have (one worker thread each). */
export const MAX_VCPUS = 64;

/**
 * Knobs of the workloads. Each applies to the workloads named in its comment (and to `mixed`'s
 * parts); the others ignore it. Absent knobs take the defaults in {@link DEFAULT_WORKLOAD_OPTIONS}.
 */
export interface WorkloadOptions {
  /**
   * Every workload: page writes per second of the whole guest (split over the vCPUs that
   * work), the pace of a slower CPU; 0 = as fast as the vCPUs run. Throttling slows it further.
   */
  rate?: number;
  /** xbzrle-doc: bytes of the buffer (a multiple of 4096; cut to the region). Default 16 MiB. */
  bufferBytes?: number;
  /** zipf: share of the pages in the hot set, 0 < f <= 1. Default 0.1. */
  hotFraction?: number;
  /** zipf: share of the writes that go to the hot set, 0..1. Default 0.9. */
  hotWrites?: number;
  /** zipf: 32-bit words a write updates, 1..1024. Default 4 (a 16-byte row). */
  wordsPerWrite?: number;
  /** video: frame buffers in the ring, 1..1024. Default 8. */
  frames?: number;
  /** video: bytes of a frame (a multiple of 4096), or 0 to fill the vCPU's share. Default 0. */
  frameBytes?: number;
  /** video: share of a frame's pages whose content changes from frame to frame, 0 < m <= 1. Default 0.1. */
  motion?: number;
}

/** Workload options with every knob present. */
export type ResolvedWorkloadOptions = Required<WorkloadOptions>;

export const DEFAULT_WORKLOAD_OPTIONS: Readonly<ResolvedWorkloadOptions> = Object.freeze({
  rate: 0,
  bufferBytes: 16 * 1024 * 1024,
  hotFraction: 0.1,
  hotWrites: 0.9,
  wordsPerWrite: 4,
  frames: 8,
  frameBytes: 0,
  motion: 0.1,
});

const PAGE = 4096;
/** Writes a mixed vCPU makes on one part before it turns to the next. */
export const MIXED_TURN_WRITES = 64;
/** The parts of a `mixed` share, in order, with their share of its pages (per mille). */
export const MIXED_PARTS: readonly { workload: 'zipf' | 'video' | 'xbzrle-doc' | 'bwmem'; perMille: number }[] = [
  { workload: 'zipf', perMille: 400 },
  { workload: 'video', perMille: 300 },
  { workload: 'xbzrle-doc', perMille: 200 },
  { workload: 'bwmem', perMille: 100 },
];
/** Fewest pages a `mixed` vCPU share may have (every part needs a few). */
const MIXED_MIN_PAGES = 16;

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
 * Fills in defaults and checks every knob, and that the workload fits the region on `vcpus`
 * vCPUs (a video ring must fit each vCPU's share, a mixed share needs 16 pages).
 * @throws InvalidArgumentError naming the first bad knob.
 */
export function resolveWorkloadOptions(workload: WorkloadName, options: unknown, regionPages: number, vcpus: number): ResolvedWorkloadOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new InvalidArgumentError('workload options must be an object');
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!Object.prototype.hasOwnProperty.call(DEFAULT_WORKLOAD_OPTIONS, k)) {
      throw new InvalidArgumentError(`unknown workload option ${JSON.stringify(k)}: expected one of ${Object.keys(DEFAULT_WORKLOAD_OPTIONS).join(', ')}`);
    }
  }
  const d = DEFAULT_WORKLOAD_OPTIONS;
  const r: ResolvedWorkloadOptions = {
    rate: int(o.rate ?? d.rate, 'rate', 0, 1e9),
    bufferBytes: pages(o.bufferBytes ?? d.bufferBytes, 'bufferBytes', false),
    hotFraction: fraction(o.hotFraction ?? d.hotFraction, 'hotFraction', false),
    hotWrites: fraction(o.hotWrites ?? d.hotWrites, 'hotWrites', true),
    wordsPerWrite: int(o.wordsPerWrite ?? d.wordsPerWrite, 'wordsPerWrite', 1, PAGE / 4),
    frames: int(o.frames ?? d.frames, 'frames', 1, 1024),
    frameBytes: pages(o.frameBytes ?? d.frameBytes, 'frameBytes', true),
    motion: fraction(o.motion ?? d.motion, 'motion', false),
  };
  for (let v = 0; v < vcpus; v++) {
    const share = shareOf(workload, vcpus, v, regionPages);
    if (share.end === share.start) continue;
    const n = share.end - share.start;
    if (workload === 'video' && ringPages(n, r) === 0) {
      throw new InvalidArgumentError(`video: ${r.frames} frames of ${r.frameBytes === 0 ? 'at least 4096' : r.frameBytes} bytes do not fit vCPU ${v}'s ${n} pages of the region`);
    }
    if (workload === 'mixed' && n < MIXED_MIN_PAGES) {
      throw new InvalidArgumentError(`mixed: vCPU ${v} has ${n} pages of the region; it needs at least ${MIXED_MIN_PAGES}`);
    }
  }
  return r;
}

/**
 * The region pages `[start, end)` (region-relative) a vCPU writes. `stride` gives the whole
 * region to vCPU 0 (one incrementer keeps the single-boundary invariant); the others split it
 * into contiguous shares, of which `xbzrle-doc` uses the part in its buffer and `video` the
 * part its ring covers; `idle` gives nothing. An empty range means the vCPU idles.
 */
export function vcpuPageRange(
  workload: WorkloadName,
  vcpus: number,
  vcpu: number,
  regionPages: number,
  options: ResolvedWorkloadOptions = DEFAULT_WORKLOAD_OPTIONS,
): { start: number; end: number } {
  const share = shareOf(workload, vcpus, vcpu, regionPages);
  if (share.start === share.end) return share;
  switch (workload) {
    case 'xbzrle-doc': {
      const buffer = Math.min(regionPages, options.bufferBytes / PAGE);
      return { start: Math.floor((vcpu * buffer) / vcpus), end: Math.floor(((vcpu + 1) * buffer) / vcpus) };
    }
    case 'video':
      return { start: share.start, end: share.start + ringPages(share.end - share.start, options) };
    default:
      return share;
  }
}

/** Pages of one video frame in a share of `sharePages` (0 if the ring does not fit). */
export function framePagesOf(sharePages: number, options: ResolvedWorkloadOptions): number {
  const fp = options.frameBytes === 0 ? Math.floor(sharePages / options.frames) : options.frameBytes / PAGE;
  return fp * options.frames <= sharePages ? fp : 0;
}

function ringPages(sharePages: number, options: ResolvedWorkloadOptions): number {
  return framePagesOf(sharePages, options) * options.frames;
}

function shareOf(workload: WorkloadName, vcpus: number, vcpu: number, regionPages: number): { start: number; end: number } {
  switch (workload) {
    case 'idle':
      return { start: 0, end: 0 };
    case 'stride':
      return vcpu === 0 ? { start: 0, end: regionPages } : { start: 0, end: 0 };
    default:
      return { start: Math.floor((vcpu * regionPages) / vcpus), end: Math.floor(((vcpu + 1) * regionPages) / vcpus) };
  }
}

/**
 * The parts of a mixed vCPU's share `[start, end)`: consecutive page ranges, one per
 * {@link MIXED_PARTS} entry, each at least one page.
 */
export function mixedParts(start: number, end: number): { workload: (typeof MIXED_PARTS)[number]['workload']; start: number; end: number }[] {
  const n = end - start;
  const out: { workload: (typeof MIXED_PARTS)[number]['workload']; start: number; end: number }[] = [];
  let at = start;
  let acc = 0;
  MIXED_PARTS.forEach((p, i) => {
    acc += p.perMille;
    const stop = i === MIXED_PARTS.length - 1 ? end : Math.max(at + 1, start + Math.floor((n * acc) / 1000));
    out.push({ workload: p.workload, start: at, end: stop });
    at = stop;
  });
  return out;
}

function int(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(`workload option ${name} must be an integer ${min}..${max}, got ${String(v)}`);
  }
  return v;
}

function fraction(v: unknown, name: string, zeroOk: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v > 1 || (zeroOk ? v < 0 : v <= 0)) {
    throw new InvalidArgumentError(`workload option ${name} must be a number ${zeroOk ? '0' : 'above 0'}..1, got ${String(v)}`);
  }
  return v;
}

function pages(v: unknown, name: string, zeroOk: boolean): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v % PAGE !== 0 || (!zeroOk && v === 0)) {
    throw new InvalidArgumentError(`workload option ${name} must be a ${zeroOk ? 'non-negative' : 'positive'} multiple of ${PAGE} bytes, got ${String(v)}`);
  }
  return v;
}
