/**
 * What a benchmark run prints: the results as JSON (every metric and pass record of every
 * run), markdown tables (the codec pairs: delta compression against none, all else equal;
 * every cell, i.e. every spec with its repetitions summarised; every run), and a
 * self-contained HTML page with the same tables and a bar chart per comparison (the charts
 * come from the migration report's SVG module, `src/cli/report/svg.ts`). A cell's figures are
 * the median and min–max of its runs; ratios are between medians.
 */
import { barChart, esc } from '../report/svg.js';
import type { Cell } from './cells.js';
import { cellsOf, spread } from './cells.js';
import { codecPairs } from './pairs.js';
import type { RunResult } from './run.js';
import type { Columns } from './tables.js';
import { CELL_COLUMNS, PAIR_HEAD, ROUND_HEAD, RUN_COLUMNS, f0, med, mib, pairRows, roundRows } from './tables.js';

export { codecPairs } from './pairs.js';
export type { CodecPair } from './pairs.js';

export interface BenchMeta {
  matrix: string;
  /** Runs of each cell (`--repeat`); absent in output from before repetitions (1). */
  repeat?: number;
  command: string;
  startedAt: string;
  elapsedMs: number;
  node: string;
  cpus: number;
  cpuModel: string;
  kernel: string;
  /** How links were made: the simulated token bucket, or netns with netem/tbf. */
  link: string;
  /** The host's 1-minute load average when the matrix started and ended (other work on the machine skews timings). */
  loadAverage: { before: number; after: number };
}

export interface BenchOutput {
  meta: BenchMeta;
  runs: RunResult[];
}

const MiB = 1024 * 1024;

const EXPLAIN =
  'A workload\'s [N %] is the share of RAM it writes. Times in ms; "downtime" is livemig\'s, from pausing the guest to the destination\'s confirmation; "net downtime" is the part of it that QEMU\'s and the seed\'s downtime consist of (stopping the vCPUs and sending what was left), without what only livemig does inside it (a sha256 of the RAM on both sides, resuming the guest\'s threads before confirming); "guest downtime" is from the guest\'s last write on the source to its first on the destination. Work rates are the guest\'s page writes per second. "whole" counts page bytes of pages sent whole.';

function explainRepeat(repeat: number): string {
  return repeat > 1
    ? `Each cell (a spec: workload, link, codec, cache, ...) ran ${repeat} times with the same seed, the whole matrix round after round. A cell's figure is the median of its completed runs, then [min–max] when they differ; "converged k/N" counts the runs that switched over by themselves (the others were forced at max-time). Ratios (÷) and changes (%) are between the medians of the two cells; "round by round" pairs run k of one cell with run k of the other, which ran next to it.`
    : 'Each cell ran once: a single shot, so no spread.';
}

function mdTable(head: readonly string[], rows: readonly string[][]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

function rowsOf<T>(cols: Columns<T>, xs: readonly T[]): { head: string[]; rows: string[][] } {
  return { head: cols.map(([h]) => h), rows: xs.map((x) => cols.map(([, f]) => f(x))) };
}

/** The markdown: how it was made, the codec pairs, every cell (with repetitions), every run. */
export function renderMarkdown(o: BenchOutput): string {
  const m = o.meta;
  const repeat = m.repeat ?? 1;
  const pairs = codecPairs(o.runs);
  const cells = cellsOf(o.runs);
  const t = (x: { head: string[]; rows: string[][] }): string => mdTable(x.head, x.rows);
  return [
    `# livemig benchmark: the \`${m.matrix}\` matrix`,
    '',
    `Command: \`${m.command}\` · ${m.startedAt} · ${(m.elapsedMs / 1000).toFixed(0)} s · ${cells.length} cells × ${repeat} = ${o.runs.length} runs`,
    `Machine: ${m.cpus} × ${m.cpuModel}, Linux ${m.kernel}, Node ${m.node}; load average ${m.loadAverage.before} at the start, ${m.loadAverage.after} at the end. Links: ${m.link}.`,
    '',
    EXPLAIN,
    '',
    explainRepeat(repeat),
    '',
    '## Delta compression (XBZRLE) against none, all else equal',
    '',
    pairs.length ? mdTable(PAIR_HEAD, pairRows(pairs)) : '(no pairs in this matrix)',
    '',
    ...(repeat > 1 && pairs.length ? ['### Round by round (run k against run k: the least and the most of each figure)', '', mdTable(ROUND_HEAD, roundRows(pairs)), ''] : []),
    ...(repeat > 1 ? ['## Every cell (median [min–max] of its runs)', '', t(rowsOf(CELL_COLUMNS, cells)), ''] : []),
    '## Every run',
    '',
    t(rowsOf(RUN_COLUMNS, o.runs)),
    '',
  ].join('\n');
}

const CODEC_COLOR: Record<string, string> = { none: '#4e79a7', xbzrle: '#f28e2b', xbrle: '#76b7b2' };
const KIND_COLOR = { zero: '#59a14f', normal: '#4e79a7', delta: '#f28e2b', other: '#bab0ac' };

/** A comparison's charts: one bar per cell at its median (hover: the min–max and k/N). */
function groupCharts(cells: Cell[]): string {
  const cats = cells.map((c) => `${c.spec.workload}`);
  const subs = cells.map((c) => c.spec.variant);
  const width = Math.max(480, 72 * cells.length + 100);
  const medianOf = (c: Cell, f: (r: RunResult) => number): number => spread(c.runs.filter((r) => r.status === 'completed').map(f)).median;
  const tooltip = (i: number): string => {
    const c = cells[i]!;
    return `${c.spec.id}: converged ${c.converged}/${c.runs.length}, total ${med(c.totalMs)} ms, downtime ${med(c.downtimeMs)} ms (net ${med(c.netDowntimeMs)}), ${med(c.bytes, mib)} MiB`;
  };
  const byCodec = (f: (c: Cell) => number) =>
    ['none', 'xbzrle', 'xbrle'].map((k) => ({ name: k, color: CODEC_COLOR[k]!, values: cells.map((c) => (c.spec.codec === k ? f(c) : null)) }));
  const maxOf = (f: (c: Cell) => number): number => Math.max(1, ...cells.map(f));
  const box = (svg: string): string => `<div class="chart" style="max-width:${width}px">${svg}</div>`;
  // the stacked bytes: each kind's median, the rest of the median total as "other"
  const kind = (f: (r: RunResult) => number) => (c: Cell) => medianOf(c, f) / MiB;
  const zero = kind((r) => r.bytes.zero);
  const normal = kind((r) => r.bytes.normal);
  const delta = kind((r) => r.bytes.delta);
  const per = (name: string, color: string, f: (c: Cell) => number) => ({ name, color, values: cells.map(f) });
  const downtimeTitle = cells.some((c) => c.runs.length > 1) ? 'downtime (ms, median)' : 'downtime (ms)';
  return [
    barChart({ width, height: 260, categories: cats, subLabels: subs, series: byCodec((c) => c.downtimeMs.median), yMax: maxOf((c) => c.downtimeMs.median), yTick: (v) => `${v}`, xTitle: 'cell', yTitle: downtimeTitle, tooltip, barLabel: (v) => f0(v) }),
    barChart({ width, height: 260, categories: cats, subLabels: subs, series: byCodec((c) => c.totalMs.median), yMax: maxOf((c) => c.totalMs.median), yTick: (v) => `${v / 1000} s`, xTitle: 'cell', yTitle: 'total time', tooltip }),
    barChart({
      width,
      height: 260,
      categories: cats,
      subLabels: subs,
      series: [
        per('zero pages', KIND_COLOR.zero, zero),
        per('whole pages', KIND_COLOR.normal, normal),
        per('deltas', KIND_COLOR.delta, delta),
        per('headers, device state', KIND_COLOR.other, (c) => Math.max(0, c.bytes.median / MiB - zero(c) - normal(c) - delta(c))),
      ],
      yMax: maxOf((c) => c.bytes.median / MiB),
      yTick: (v) => `${v}`,
      xTitle: 'cell',
      yTitle: 'MiB on the wire',
      tooltip,
    }),
  ]
    .map(box)
    .join('\n');
}

function htmlTable(head: readonly string[], rows: readonly string[][]): string {
  return `<div class="table"><table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table></div>`;
}

/** The HTML page: self-contained (inline CSS and SVG, no script). */
export function renderHtml(o: BenchOutput): string {
  const m = o.meta;
  const repeat = m.repeat ?? 1;
  const cells = cellsOf(o.runs);
  const groups = new Map<string, Cell[]>();
  for (const c of cells) groups.set(c.spec.comparison, [...(groups.get(c.spec.comparison) ?? []), c]);
  const pairs = codecPairs(o.runs);
  const sections = [...groups].map(([name, cs]) => `<section><h2>Comparison: ${esc(name)}</h2>${groupCharts(cs)}</section>`);
  const t = (x: { head: string[]; rows: string[][] }): string => htmlTable(x.head, x.rows);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>livemig benchmark: ${esc(m.matrix)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:12px;margin:1em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right;white-space:nowrap}
th{background:#f3f3f3}
svg{max-width:100%;height:auto;display:block;margin:0.5em 0}
svg text{font:11px system-ui,sans-serif;fill:#333}
svg text.sub{fill:#777}
section{margin-top:2em}
.table{overflow-x:auto}
.meta{color:#555}
</style></head><body>
<h1>livemig benchmark: the ${esc(m.matrix)} matrix</h1>
<p class="meta">${esc(m.command)} · ${esc(m.startedAt)} · ${(m.elapsedMs / 1000).toFixed(0)} s · ${cells.length} cells × ${repeat} = ${o.runs.length} runs · ${m.cpus} × ${esc(m.cpuModel)}, Linux ${esc(m.kernel)}, Node ${esc(m.node)} · load average ${m.loadAverage.before} → ${m.loadAverage.after} · links: ${esc(m.link)}</p>
<p class="meta">${esc(explainRepeat(repeat))}</p>
<h2>Delta compression (XBZRLE) against none, all else equal</h2>
${pairs.length ? htmlTable(PAIR_HEAD, pairRows(pairs)) : '<p>(no pairs)</p>'}
${repeat > 1 && pairs.length ? `<h3>Round by round (run k against run k: the least and the most of each figure)</h3>\n${htmlTable(ROUND_HEAD, roundRows(pairs))}` : ''}
${sections.join('\n')}
${repeat > 1 ? `<h2>Every cell (median [min–max] of its runs)</h2>\n${t(rowsOf(CELL_COLUMNS, cells))}` : ''}
<h2>Every run</h2>
${t(rowsOf(RUN_COLUMNS, o.runs))}
</body></html>
`;
}
