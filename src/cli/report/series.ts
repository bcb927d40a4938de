/**
 * The numbers each plot draws, derived from a run's pass records and progress samples.
 *
 * Words: a pass's "pages to send" are the pages dirty when it started (the ones it
 * handled plus those still dirty at its end); "newly dirtied" are the pages the sync that
 * started it found (PassRecord.dirtyPages). Throughput comes from the progress samples of
 * the iterate stage and from the stop-and-copy record, whose bytes are counted only at its
 * end.
 */
import type { PassRecord } from '../../migration/index.js';
import type { ReportRun } from './recorder.js';

export interface RunSeries {
  label: string;
  passLabels: string[];
  /** "stop" under the stop-and-copy pass, "" elsewhere. */
  passSubLabels: string[];
  stopIndex: number;
  bytes: { normal: number[]; delta: number[]; zero: number[]; other: number[]; total: number[] };
  pages: { normal: number[]; delta: number[]; zero: number[]; unchanged: number[] };
  pagesToSend: number[];
  newlyDirty: number[];
  /** Cache misses per lookup in %, null when the pass looked nothing up. */
  missRatePercent: (number | null)[];
  deltaOn: boolean;
  /** [seconds, bytes/s] as steps. */
  throughput: [number, number][];
  /** [seconds, bytes] of dirty RAM still to send. */
  remaining: [number, number][];
  /** Pass starts (after the first) in seconds, labelled with the pass number. */
  passStarts: { x: number; label: string }[];
  totalMs: number;
  downtimeMs: number | undefined;
  /** The expected downtime when the migration switched over. */
  expectedAtSwitchoverMs: number | undefined;
  downtimeLimitMs: number | undefined;
  linkBytesPerSecond: number | undefined;
  /** The reference line is the simulated link (link-bandwidth), not max-bandwidth. */
  linkIsSimulated: boolean;
}

/**
 * Shortest span of a throughput step: 100 ms windows are too noisy to read (bytes are
 * counted per 1 MiB flush), and a long run needs no more than about 30 steps.
 */
function minStepMs(totalMs: number): number {
  return Math.max(250, totalMs / 30);
}

/** `longestMs`: the longest run of the report, which sets the throughput step of all. */
export function runSeries(run: ReportRun, longestMs = 0): RunSeries {
  const passes = run.passes;
  const stopIndex = passes.findIndex((p) => p.stage === 'stop-and-copy');
  const bytes = { normal: [] as number[], delta: [] as number[], zero: [] as number[], other: [] as number[], total: [] as number[] };
  for (const p of passes) {
    bytes.normal.push(p.bytes.normal);
    bytes.delta.push(p.bytes.delta);
    bytes.zero.push(p.bytes.zero);
    // record headers, section framing, device state, the digest and the end of stream
    bytes.other.push(Math.max(0, p.bytes.total - p.bytes.normal - p.bytes.delta - p.bytes.zero));
    bytes.total.push(Math.max(p.bytes.total, p.bytes.normal + p.bytes.delta + p.bytes.zero));
  }
  const totalMs = Math.max(run.info['total-time'] ?? 0, ...passes.map((p) => p.endMs), ...(run.samples ?? []).map((s) => s.tMs));
  const codec = run.info.livemig?.codec;
  const deltaOn = codec !== undefined ? codec !== 'none' : run.info['xbzrle-cache'] !== undefined || passes.some((p) => p.cacheHits + p.cacheMisses > 0);
  const last = passes.filter((p) => p.stage === 'iterate').pop();
  const p = run.parameters;
  return {
    label: run.label,
    passLabels: passes.map((x) => String(x.pass)),
    passSubLabels: passes.map((x) => (x.stage === 'stop-and-copy' ? 'stop' : '')),
    stopIndex,
    bytes,
    pages: {
      normal: passes.map((x) => x.pages.normal),
      delta: passes.map((x) => x.pages.delta),
      zero: passes.map((x) => x.pages.zero),
      unchanged: passes.map((x) => x.pages.unchanged),
    },
    pagesToSend: passes.map(pagesToSend),
    newlyDirty: passes.map((x) => x.dirtyPages),
    missRatePercent: passes.map((x) => (x.cacheHits + x.cacheMisses > 0 ? (100 * x.cacheMisses) / (x.cacheHits + x.cacheMisses) : null)),
    deltaOn,
    throughput: throughput(run, stopIndex, Math.max(totalMs, longestMs)),
    remaining: (run.samples ?? []).map((s) => [s.tMs / 1000, s.remainingBytes] as [number, number]),
    passStarts: passes.slice(1).map((x) => ({ x: x.startMs / 1000, label: String(x.pass) })),
    totalMs,
    downtimeMs: run.info.downtime,
    expectedAtSwitchoverMs: last?.expectedDowntimeMs,
    downtimeLimitMs: p?.['downtime-limit'],
    linkBytesPerSecond: p?.['link-bandwidth'] || p?.['max-bandwidth'] || undefined,
    linkIsSimulated: (p?.['link-bandwidth'] ?? 0) > 0,
  };
}

/** Pages dirty when the pass started: those it handled and those left at its end. */
export function pagesToSend(p: PassRecord): number {
  return p.pages.zero + p.pages.normal + p.pages.delta + p.pages.unchanged + p.remainingPages;
}

function throughput(run: ReportRun, stopIndex: number, totalMs: number): [number, number][] {
  const stop = stopIndex >= 0 ? run.passes[stopIndex] : undefined;
  const out: [number, number][] = [];
  const step = (t0: number, t1: number, bytes: number) => {
    const rate = t1 > t0 ? Math.max(0, (bytes * 1000) / (t1 - t0)) : 0;
    out.push([t0 / 1000, rate], [t1 / 1000, rate]);
  };
  // (ms, bytes transferred) during the iterate stage, ending where stop-and-copy starts
  const points: [number, number][] = (run.samples ?? [])
    .filter((s) => s.status === 'active' && (!stop || s.tMs <= stop.startMs))
    .map((s) => [s.tMs, s.transferredBytes]);
  if (stop && points.length > 0 && stop.startMs > points[points.length - 1]![0]) points.push([stop.startMs, (run.info.ram?.transferred ?? 0) - stop.bytes.total]);
  if (points.length >= 2) {
    // keep points at least minStep apart; the last one always stays (it replaces a close predecessor)
    const min = minStepMs(totalMs);
    const kept: [number, number][] = [points[0]!];
    for (const p of points.slice(1, -1)) if (p[0] - kept[kept.length - 1]![0] >= min) kept.push(p);
    const last = points[points.length - 1]!;
    if (kept.length > 1 && last[0] - kept[kept.length - 1]![0] < min) kept.pop();
    kept.push(last);
    for (let i = 1; i < kept.length; i++) step(kept[i - 1]![0], kept[i]![0], kept[i]![1] - kept[i - 1]![1]);
  } else {
    for (const p of run.passes) if (p.stage === 'iterate' && p.endMs > p.startMs) step(p.startMs, p.endMs, p.bytes.total);
  }
  if (stop && stop.endMs > stop.startMs) step(stop.startMs, stop.endMs, stop.bytes.total);
  return out;
}
