/**
 * Repetitions: a matrix *cell* is one RunSpec run `repeat` times (same seed), and what the
 * tables show for it is the median and the min–max spread of each headline metric over its
 * runs, with "converged" as k/N. Single-shot runs flipped between converged and forced on the
 * fast links, which is why a cell is never summarised by one run.
 */
import type { RunSpec } from './matrix.js';
import type { RunResult } from './run.js';

/** A metric over a cell's runs. `n` counts the runs it was taken over (0: no value). */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** The median (the mean of the two middle values when n is even) and the extremes; zeros when empty. */
export function spread(values: readonly number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) return { median: 0, min: 0, max: 0, n: 0 };
  const median = n % 2 === 1 ? v[(n - 1) / 2]! : (v[n / 2 - 1]! + v[n / 2]!) / 2;
  return { median, min: v[0]!, max: v[n - 1]!, n };
}

/** One cell: a spec and every run of it, in the order they ran. */
export interface Cell {
  spec: RunSpec;
  runs: RunResult[];
  /** Runs that failed (status `error`, or not completed): left out of every spread. */
  failed: number;
  /** Completed runs that switched over by themselves / were forced at max-time. */
  converged: number;
  forced: number;
  totalMs: Spread;
  downtimeMs: Spread;
  netDowntimeMs: Spread;
  /** Over the runs where the guest wrote on both sides (an idle guest never does). */
  guestDowntimeMs: Spread;
  bytes: Spread;
  senderCpuMs: Spread;
  cacheMissRate: Spread;
  encodingRate: Spread;
  overflows: Spread;
  passes: Spread;
  /** Every completed run's RAM digests matched. */
  digestsMatch: boolean;
}

/** Groups runs by spec id (first-seen order) and summarises each group. */
export function cellsOf(runs: readonly RunResult[]): Cell[] {
  const groups = new Map<string, RunResult[]>();
  for (const r of runs) groups.set(r.spec.id, [...(groups.get(r.spec.id) ?? []), r]);
  return [...groups.values()].map(summarise);
}

function summarise(runs: RunResult[]): Cell {
  const ok = runs.filter((r) => r.status === 'completed');
  const of = (f: (r: RunResult) => number): Spread => spread(ok.map(f));
  return {
    spec: runs[0]!.spec,
    runs,
    failed: runs.length - ok.length,
    converged: ok.filter((r) => r.converged).length,
    forced: ok.filter((r) => r.forced).length,
    totalMs: of((r) => r.totalMs),
    downtimeMs: of((r) => r.downtimeMs),
    netDowntimeMs: of((r) => r.netDowntimeMs),
    guestDowntimeMs: spread(ok.flatMap((r) => (r.guestDowntimeMs === null ? [] : [r.guestDowntimeMs]))),
    bytes: of((r) => r.bytes.total),
    senderCpuMs: of((r) => r.senderCpuMs),
    cacheMissRate: of((r) => r.cacheMissRate),
    encodingRate: of((r) => r.encodingRate),
    overflows: of((r) => r.overflows),
    passes: of((r) => r.passes),
    digestsMatch: ok.every((r) => r.digestsMatch),
  };
}

/** "converged 3/3", "converged 1/3 (forced 2)", "converged 0/3 (forced 2, failed 1)". */
export function outcomeOf(c: Cell): string {
  const other = [c.forced > 0 ? `forced ${c.forced}` : '', c.failed > 0 ? `failed ${c.failed}` : ''].filter(Boolean);
  return `converged ${c.converged}/${c.runs.length}${other.length ? ` (${other.join(', ')})` : ''}`;
}
