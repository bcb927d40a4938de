/**
 * Codec pairs: the cell without delta compression and the cell that differs from it in the
 * codec only, run in the same matrix. Every figure is a ratio between the two cells' medians
 * (the baseline measured in the same run), plus the same ratio round by round (run k of one
 * cell against run k of the other, which ran next to it).
 */
import type { Cell, Spread } from './cells.js';
import { cellsOf, spread } from './cells.js';
import type { RunSpec } from './matrix.js';
import { linkLabel } from './matrix.js';
import type { RunResult } from './run.js';

export interface CodecPair {
  workload: string;
  link: string;
  ramMiB: number;
  none: Cell;
  delta: Cell;
  /** none ÷ delta, of the medians (0 when the delta median is 0). */
  downtimeRatio: number;
  netDowntimeRatio: number;
  guestDowntimeRatio: number;
  /** delta against none, percent, of the medians. */
  totalTimeChange: number;
  bytesChange: number;
  /** The same figures round by round: run k against run k (completed pairs only). */
  rounds: { netDowntimeRatio: Spread; totalTimeChange: Spread; bytesChange: Spread };
}

const MiB = 1024 * 1024;

function pairKey(s: RunSpec): string {
  return JSON.stringify([s.workload, s.workloadOptions, s.ramBytes, s.regionPercent, s.vcpus, s.seed, s.linkBitsPerSecond, s.cachePercent, s.cacheWays, s.downtimeLimitMs, s.maxTimeMs, s.autoConverge, s.autoXbzrle]);
}

/** Pairs each `none` cell with the `codec` cell that differs from it in the codec only. */
export function codecPairs(runs: readonly RunResult[], codec: 'xbzrle' | 'xbrle' = 'xbzrle'): CodecPair[] {
  const cells = cellsOf(runs).filter((c) => c.failed < c.runs.length);
  const withDelta = new Map<string, Cell>();
  for (const c of cells) if (c.spec.codec === codec) withDelta.set(pairKey(c.spec), c);
  const out: CodecPair[] = [];
  const seen = new Set<string>();
  for (const none of cells) {
    if (none.spec.codec !== 'none') continue;
    const k = pairKey(none.spec);
    const delta = withDelta.get(k);
    if (!delta || seen.has(k)) continue;
    seen.add(k);
    const byRound = roundPairs(none, delta);
    out.push({
      workload: none.spec.workload,
      link: linkLabel(none.spec.linkBitsPerSecond),
      ramMiB: none.spec.ramBytes / MiB,
      none,
      delta,
      downtimeRatio: ratio(none.downtimeMs.median, delta.downtimeMs.median),
      netDowntimeRatio: ratio(none.netDowntimeMs.median, delta.netDowntimeMs.median),
      guestDowntimeRatio: ratio(none.guestDowntimeMs.median, delta.guestDowntimeMs.median),
      totalTimeChange: change(none.totalMs.median, delta.totalMs.median),
      bytesChange: change(none.bytes.median, delta.bytes.median),
      rounds: {
        netDowntimeRatio: spread(byRound.map(([a, b]) => ratio(a.netDowntimeMs, b.netDowntimeMs))),
        totalTimeChange: spread(byRound.map(([a, b]) => change(a.totalMs, b.totalMs))),
        bytesChange: spread(byRound.map(([a, b]) => change(a.bytes.total, b.bytes.total))),
      },
    });
  }
  return out;
}

/** Run k of `a` with run k of `b`, where both completed. */
function roundPairs(a: Cell, b: Cell): [RunResult, RunResult][] {
  const out: [RunResult, RunResult][] = [];
  a.runs.forEach((r, i) => {
    const s = b.runs[i];
    if (s && r.status === 'completed' && s.status === 'completed') out.push([r, s]);
  });
  return out;
}

/** a ÷ b to one decimal (two below 1), 0 when b is 0. */
export function ratio(a: number, b: number): number {
  if (!(b > 0)) return 0;
  const r = a / b;
  return r < 1 ? Math.round(r * 100) / 100 : Math.round(r * 10) / 10;
}

/** after against before, percent to one decimal, 0 when before is 0. */
export function change(before: number, after: number): number {
  return before > 0 ? Math.round(((after - before) / before) * 1000) / 10 : 0;
}
