/**
 * The workload knobs on the command line: one flag per `WorkloadOptions` knob of the guest
 * layer, plus the region the workload writes, each with the workloads that use it. A knob
 * given for a workload that does not use it is an error (a typo'd experiment should not run
 * with defaults), as is a combination that does not fit the guest, and every message names
 * the flag. Everything here is checked before the guest starts.
 */
import { Option } from 'commander';
import { LivemigError } from '../errors.js';
import { DEFAULT_WORKLOAD_OPTIONS, WORKLOAD_NAMES } from '../guest/index.js';
import type { RegionSpec, WorkloadName, WorkloadOptions } from '../guest/index.js';
import { formatSize } from '../monitor/index.js';
import { fractionOption, intOption, pageSizeOption, perSecondOption } from './options.js';

/** The knobs as commander hands them over (camelCase of the flags; absent = the workload's default). */
export type WorkloadFlags = Omit<WorkloadOptions, 'bufferBytes'> & {
  /** --buffer: WorkloadOptions.bufferBytes. */
  buffer?: number;
  region?: number;
  regionOffset?: number;
};

interface Knob {
  flag: string;
  key: keyof WorkloadFlags;
  arg: string;
  /** The WorkloadOptions knob it sets (none for the region, which is a Guest.start option). */
  option?: keyof WorkloadOptions;
  workloads: readonly WorkloadName[];
  help: string;
  parse: (v: string) => number;
}

const WRITERS = WORKLOAD_NAMES.filter((w) => w !== 'idle');
const d = DEFAULT_WORKLOAD_OPTIONS;
/** Pages a mixed vCPU share needs at least (the guest layer's rule: every part gets a few). */
const MIXED_MIN_PAGES = 16;
const PAGE = 4096;

/** Every knob, in the order `--help` lists them. */
export const KNOBS: readonly Knob[] = [
  { flag: '--rate', key: 'rate', arg: '<writes/s>', option: 'rate', workloads: WRITERS, help: 'page writes per second of the whole guest, split over its vCPUs (k = ×1000; 0 = as fast as they run; default 0)', parse: perSecondOption('--rate', 1e9) },
  { flag: '--region', key: 'region', arg: '<size>', workloads: WRITERS, help: 'the workload writes only this much RAM, from --region-offset (default: all RAM after the offset)', parse: pageSizeOption('--region') },
  { flag: '--region-offset', key: 'regionOffset', arg: '<size>', workloads: WRITERS, help: 'where in RAM the written region starts (default 0)', parse: pageSizeOption('--region-offset', true) },
  { flag: '--buffer', key: 'buffer', arg: '<size>', option: 'bufferBytes', workloads: ['xbzrle-doc', 'mixed'], help: `the buffer in which one byte of every KiB is incremented, whole pages, cut to the region (default ${formatSize(d.bufferBytes)})`, parse: pageSizeOption('--buffer') },
  { flag: '--hot-fraction', key: 'hotFraction', arg: '<share>', option: 'hotFraction', workloads: ['zipf', 'mixed'], help: `share of the pages in the hot set, above 0 to 1 (default ${d.hotFraction})`, parse: fractionOption('--hot-fraction', false) },
  { flag: '--hot-writes', key: 'hotWrites', arg: '<share>', option: 'hotWrites', workloads: ['zipf', 'mixed'], help: `share of the writes that go to the hot set, 0 to 1 (default ${d.hotWrites})`, parse: fractionOption('--hot-writes', true) },
  { flag: '--words-per-write', key: 'wordsPerWrite', arg: '<n>', option: 'wordsPerWrite', workloads: ['zipf', 'mixed'], help: `32-bit words a row update writes, 1 to 1024 (default ${d.wordsPerWrite})`, parse: intOption('--words-per-write', 1, PAGE / 4) },
  { flag: '--frames', key: 'frames', arg: '<n>', option: 'frames', workloads: ['video', 'mixed'], help: `frame buffers in the ring, 1 to 1024 (default ${d.frames})`, parse: intOption('--frames', 1, 1024) },
  { flag: '--frame-bytes', key: 'frameBytes', arg: '<size>', option: 'frameBytes', workloads: ['video'], help: 'bytes of one frame, whole pages; 0 = the vCPU\'s share of the region ÷ --frames (default 0)', parse: pageSizeOption('--frame-bytes', true) },
  { flag: '--motion', key: 'motion', arg: '<share>', option: 'motion', workloads: ['video', 'mixed'], help: `share of a frame's pages that change from frame to frame, above 0 to 1 (default ${d.motion})`, parse: fractionOption('--motion', false) },
];

/** The heading the knobs get in `livemig run --help`. */
export const KNOBS_HELP_GROUP = 'Workload knobs (each for the workloads in brackets; any other workload rejects it):';

/** The knobs as commander options, for `livemig run`. */
export function workloadFlagOptions(): Option[] {
  return KNOBS.map((k) =>
    new Option(`${k.flag} ${k.arg}`, `[${k.workloads.length === WRITERS.length ? 'every workload but idle' : k.workloads.join(', ')}] ${k.help}`).argParser(k.parse).helpGroup(KNOBS_HELP_GROUP),
  );
}

function invalid(message: string): LivemigError {
  return new LivemigError('INVALID_ARGUMENT', message);
}

/**
 * What `Guest.start` gets from the knobs: its `workloadOptions` and `region`.
 * @throws LivemigError `INVALID_ARGUMENT` naming the flag: a knob the workload does not use,
 *   a region outside RAM, a video ring or mixed share that does not fit.
 */
export function workloadSettings(workload: WorkloadName, flags: WorkloadFlags, ramBytes: number, vcpus: number): { workloadOptions: WorkloadOptions; region?: RegionSpec } {
  const workloadOptions: WorkloadOptions = {};
  for (const k of KNOBS) {
    const v = flags[k.key];
    if (v === undefined) continue;
    if (!k.workloads.includes(workload)) {
      throw invalid(`${k.flag} applies to ${k.workloads.length === WRITERS.length ? 'every workload but idle' : `the ${k.workloads.join(' and ')} workload${k.workloads.length > 1 ? 's' : ''}`}, not to '${workload}'`);
    }
    if (k.option) workloadOptions[k.option] = v;
  }
  const offset = flags.regionOffset ?? 0;
  if (offset >= ramBytes) throw invalid(`--region-offset ${formatSize(offset)} is not inside the guest's RAM (--ram ${formatSize(ramBytes)})`);
  const size = flags.region ?? ramBytes - offset;
  if (offset + size > ramBytes) throw invalid(`--region ${formatSize(size)} from --region-offset ${formatSize(offset)} ends beyond the guest's RAM (--ram ${formatSize(ramBytes)})`);
  checkFit(workload, workloadOptions, size / PAGE, vcpus);
  return flags.region === undefined && flags.regionOffset === undefined ? { workloadOptions } : { workloadOptions, region: { offsetBytes: offset, sizeBytes: size } };
}

/** The guest layer's fit rules, checked here so that the message names the flags. */
function checkFit(workload: WorkloadName, o: WorkloadOptions, regionPages: number, vcpus: number): void {
  if (workload !== 'video' && workload !== 'mixed') return;
  for (let v = 0; v < vcpus; v++) {
    const share = Math.floor(((v + 1) * regionPages) / vcpus) - Math.floor((v * regionPages) / vcpus);
    if (share === 0) continue; // this vCPU idles
    if (workload === 'mixed' && share < MIXED_MIN_PAGES) {
      throw invalid(`mixed: vCPU ${v} gets ${share} pages of the region; each needs at least ${MIXED_MIN_PAGES} (raise --ram or --region, or lower --vcpus)`);
    }
    if (workload === 'video') {
      const frames = o.frames ?? d.frames;
      const frameBytes = o.frameBytes ?? d.frameBytes;
      const framePages = frameBytes === 0 ? Math.floor(share / frames) : frameBytes / PAGE;
      if (framePages === 0 || framePages * frames > share) {
        throw invalid(
          `video: ${frames} frames (--frames) of ${frameBytes === 0 ? 'at least one page' : formatSize(frameBytes)} (--frame-bytes) do not fit vCPU ${v}'s ${formatSize(share * PAGE)} of the region (--ram, --region, --vcpus)`,
        );
      }
    }
  }
}
