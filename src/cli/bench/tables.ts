/**
 * The rows of the benchmark's tables, shared by the markdown and the HTML report: the codec
 * pairs (medians and min–max of each cell, ratios of the medians), the pairs round by round,
 * every cell (its runs summarised), and every run.
 */
import type { Cell, Spread } from './cells.js';
import { outcomeOf } from './cells.js';
import type { RunSpec } from './matrix.js';
import { linkLabel } from './matrix.js';
import type { CodecPair } from './pairs.js';
import type { RunResult } from './run.js';

const MiB = 1024 * 1024;

export const f0 = (v: number): string => String(Math.round(v));
export const mib = (v: number): string => (v / MiB).toFixed(v >= 10 * MiB ? 0 : 1);
const pct = (v: number): string => `${v > 0 ? '+' : ''}${v.toFixed(1)} %`;
const rate = (v: number): string => (v >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : f0(v));

/** "344 [340–350]": the median, then the min–max when the runs differ; "-" without a value. */
export function med(s: Spread, fmt: (v: number) => string = f0): string {
  if (s.n === 0) return '-';
  const m = fmt(s.median);
  const lo = fmt(s.min);
  const hi = fmt(s.max);
  return lo === hi ? m : `${m} [${lo}–${hi}]`;
}

export function statusOf(r: RunResult): string {
  if (r.status === 'error') return `error: ${r.error ?? ''}`.slice(0, 60);
  if (r.status !== 'completed') return r.status;
  return r.forced ? 'forced' : 'converged';
}

function workloadOf(s: RunSpec): string {
  return s.workload + (s.regionPercent < 100 ? ` [${s.regionPercent} %]` : '') + (s.workloadOptions.rate ? ` @${rate(s.workloadOptions.rate)}/s` : '');
}

function codecOf(s: RunSpec): string {
  return s.codec + (s.autoXbzrle ? '+auto' : '') + (s.autoConverge ? ' ac' : '');
}

function cacheOf(s: RunSpec, cacheBytes: number): string {
  return s.codec === 'none' ? '-' : `${mib(cacheBytes)} MiB ${s.cacheWays}-way`;
}

export type Columns<T> = readonly (readonly [string, (x: T) => string])[];

/** Every run, one row each; "run" is its repetition (k of N). */
export const RUN_COLUMNS: Columns<RunResult> = [
  ['comparison', (r) => r.spec.comparison],
  ['workload', (r) => workloadOf(r.spec)],
  ['variant', (r) => r.spec.variant],
  ['run', (r) => String(r.repeat ?? 1)],
  ['RAM MiB', (r) => mib(r.spec.ramBytes)],
  ['link', (r) => linkLabel(r.spec.linkBitsPerSecond)],
  ['codec', (r) => codecOf(r.spec)],
  ['cache', (r) => cacheOf(r.spec, r.cacheBytes)],
  ['result', statusOf],
  ['total ms', (r) => f0(r.totalMs)],
  ['downtime ms', (r) => f0(r.downtimeMs)],
  ['net downtime ms', (r) => f0(r.netDowntimeMs)],
  ['guest downtime ms', (r) => (r.guestDowntimeMs === null ? '-' : f0(r.guestDowntimeMs))],
  ['passes', (r) => f0(r.passes)],
  ['wire MiB', (r) => mib(r.bytes.total)],
  ['zero / whole / delta MiB', (r) => `${mib(r.bytes.zero)} / ${mib(r.bytes.normal)} / ${mib(r.bytes.delta)}`],
  ['miss rate', (r) => (r.spec.codec === 'none' ? '-' : r.cacheMissRate.toFixed(2))],
  ['enc. rate', (r) => (r.spec.codec === 'none' ? '-' : r.encodingRate.toFixed(1))],
  ['overflows', (r) => (r.spec.codec === 'none' ? '-' : f0(r.overflows))],
  ['delta verdict', (r) => (r.spec.codec === 'none' ? '-' : `${r.deltaVerdict}${r.deltaGain ? ` ${r.deltaGain}x` : ''}${r.deltaDisabledAtPass ? ` (off @${r.deltaDisabledAtPass})` : ''}`)],
  ['CPU send / recv ms', (r) => `${f0(r.senderCpuMs)} / ${f0(r.receiverCpuMs)}`],
  ['work/s before / during / after', (r) => `${rate(r.workRate.before)} / ${rate(r.workRate.during)} / ${rate(r.workRate.after)}`],
  ['throttle', (r) => (r.spec.autoConverge ? `${r.throttleMax} %` : '-')],
  ['digest', (r) => (r.status === 'error' ? '-' : r.digestsMatch ? 'equal' : 'DIFFER')],
  ['load', (r) => (r.loadAverage === undefined ? '-' : r.loadAverage.toFixed(2))],
];

/** Every cell: its runs' outcome counts and median [min–max] of the headline metrics. */
export const CELL_COLUMNS: Columns<Cell> = [
  ['comparison', (c) => c.spec.comparison],
  ['workload', (c) => workloadOf(c.spec)],
  ['variant', (c) => c.spec.variant],
  ['RAM MiB', (c) => mib(c.spec.ramBytes)],
  ['link', (c) => linkLabel(c.spec.linkBitsPerSecond)],
  ['codec', (c) => codecOf(c.spec)],
  ['cache', (c) => cacheOf(c.spec, c.runs[0]!.cacheBytes)],
  ['result', outcomeOf],
  ['total ms', (c) => med(c.totalMs)],
  ['downtime ms', (c) => med(c.downtimeMs)],
  ['net downtime ms', (c) => med(c.netDowntimeMs)],
  ['guest downtime ms', (c) => med(c.guestDowntimeMs)],
  ['wire MiB', (c) => med(c.bytes, mib)],
  ['passes', (c) => med(c.passes)],
  ['miss rate', (c) => (c.spec.codec === 'none' ? '-' : med(c.cacheMissRate, (v) => v.toFixed(2)))],
  ['overflows', (c) => (c.spec.codec === 'none' ? '-' : med(c.overflows))],
  ['sender CPU ms', (c) => med(c.senderCpuMs)],
  ['digest', (c) => (c.failed === c.runs.length ? '-' : c.digestsMatch ? 'equal' : 'DIFFER')],
];

const ratioText = (r: number): string => `÷${r}`;

export const PAIR_HEAD = ['workload', 'link', 'RAM MiB', 'converged (none → XBZRLE)', 'downtime ms', 'net downtime ms', 'guest downtime ms', 'total ms', 'wire MiB', 'XBZRLE miss / enc. / overflows', 'sender CPU ms'];

/** The codec pairs: none → XBZRLE, each side median [min–max], then the ratio of the medians. */
export function pairRows(pairs: readonly CodecPair[]): string[][] {
  return pairs.map((p) => [
    p.workload,
    p.link,
    String(p.ramMiB),
    `${p.none.converged}/${p.none.runs.length} → ${p.delta.converged}/${p.delta.runs.length}`,
    `${med(p.none.downtimeMs)} → ${med(p.delta.downtimeMs)} (${ratioText(p.downtimeRatio)})`,
    `${med(p.none.netDowntimeMs)} → ${med(p.delta.netDowntimeMs)} (${ratioText(p.netDowntimeRatio)})`,
    `${med(p.none.guestDowntimeMs)} → ${med(p.delta.guestDowntimeMs)} (${ratioText(p.guestDowntimeRatio)})`,
    `${med(p.none.totalMs)} → ${med(p.delta.totalMs)} (${pct(p.totalTimeChange)})`,
    `${med(p.none.bytes, mib)} → ${med(p.delta.bytes, mib)} (${pct(p.bytesChange)})`,
    `${p.delta.cacheMissRate.median.toFixed(2)} / ${p.delta.encodingRate.median.toFixed(1)} / ${f0(p.delta.overflows.median)}`,
    `${med(p.none.senderCpuMs)} → ${med(p.delta.senderCpuMs)}`,
  ]);
}

export const ROUND_HEAD = ['workload', 'link', 'RAM MiB', 'rounds', 'net downtime ÷', 'total time', 'wire bytes'];

/** The pairs round by round: the range of run-k-against-run-k figures. */
export function roundRows(pairs: readonly CodecPair[]): string[][] {
  const range = (s: Spread, fmt: (v: number) => string): string => (s.n === 0 ? '-' : s.min === s.max ? fmt(s.min) : `${fmt(s.min)} … ${fmt(s.max)}`);
  return pairs.map((p) => [
    p.workload,
    p.link,
    String(p.ramMiB),
    String(p.rounds.netDowntimeRatio.n),
    range(p.rounds.netDowntimeRatio, ratioText),
    range(p.rounds.totalTimeChange, pct),
    range(p.rounds.bytesChange, pct),
  ]);
}
