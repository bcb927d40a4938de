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
import type { RunSpec } from './matrix.js';
import { linkLabel } from './matrix.js';
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
  'A workload\'s [N %] is the share of RAM it writes. Times in ms; "downtime" is livemig\'s, from pausing the guest to the destination\'s confirmation; "net downtime" is the part of it that QEMU\'s downtime consists of (stopping the vCPUs and sending what was left), without what only livemig does inside it (the check of all RAM with verify before-resume, the destination\'s resume before it confirms); "guest downtime" is from the guest\'s last write on the source to its first on the destination. Work rates are the guest\'s page writes per second. "whole" counts page bytes of pages sent whole.';

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
const SIDE_COLOR = { off: '#4e79a7', on: '#f28e2b' };

/**
 * Comparisons that switch a policy on: the same spec without it is the other side, taken from
 * the same matrix run (its own comparison, or another: the codec cells are auto-xbzrle's
 * "without"). Knobs that only the policy reads, and the time limit, may differ between sides.
 */
const TOGGLES: Record<string, { flag: 'autoXbzrle' | 'autoConverge'; name: string; ignore: readonly (keyof RunSpec)[] }> = {
  'auto-xbzrle': { flag: 'autoXbzrle', name: 'auto-xbzrle', ignore: [] },
  'auto-converge': { flag: 'autoConverge', name: 'auto-converge', ignore: ['maxTimeMs', 'parameters'] },
};

/** One bar slot of a comparison chart: a cell, or a side the matrix did not run. */
interface Slot {
  cell: Cell | undefined;
  label: string;
  sub: string;
  color: string;
  /** The legend entry this slot's colour stands for. */
  legend: string;
}

/** The slots of a plain comparison: one per cell, coloured by codec. */
function codecSlots(cells: readonly Cell[]): Slot[] {
  return cells.map((c) => ({ cell: c, label: c.spec.workload, sub: c.spec.variant, color: CODEC_COLOR[c.spec.codec] ?? '#999', legend: c.spec.codec }));
}

/**
 * The slots of a policy comparison: for each spec, without and with the policy side by side,
 * then a gap. Returns the sides it could not find, in words.
 */
function toggleSlots(group: readonly Cell[], all: readonly Cell[], t: (typeof TOGGLES)[string]): { slots: Slot[]; missing: string[] } {
  const key = (s: RunSpec): string => {
    const rest: Record<string, unknown> = { ...s };
    for (const k of ['id', 'comparison', 'variant', t.flag, ...t.ignore]) delete rest[k];
    return JSON.stringify(Object.keys(rest).sort().map((k) => [k, rest[k]]));
  };
  const sides = new Map<string, { off?: Cell; on?: Cell }>();
  for (const c of group) {
    const k = key(c.spec);
    sides.set(k, { ...sides.get(k), [c.spec[t.flag] ? 'on' : 'off']: c });
  }
  for (const [k, side] of sides) {
    if (side.off && side.on) continue;
    const want = !side.on;
    const other = all.find((c) => c.spec[t.flag] === want && c.failed < c.runs.length && key(c.spec) === k);
    if (other) sides.set(k, { ...side, [want ? 'on' : 'off']: other });
  }
  const slots: Slot[] = [];
  const missing: string[] = [];
  // the link goes into the labels when the pairs differ in it
  const links = new Set([...sides.values()].map((x) => (x.on ?? x.off)!.spec.linkBitsPerSecond));
  for (const side of sides.values()) {
    const s = (side.on ?? side.off)!.spec;
    const where = `${s.workload} at ${linkLabel(s.linkBitsPerSecond)}${s.codec !== 'none' ? `, ${s.codec}` : ''}`;
    if (slots.length) slots.push({ cell: undefined, label: '', sub: '', color: '', legend: '' });
    for (const on of [false, true]) {
      const c = on ? side.on : side.off;
      const legend = `${on ? 'with' : 'without'} ${t.name}`;
      // "zipf 10G": short enough for a bar's slot
      const label = links.size > 1 ? `${s.workload} ${linkLabel(s.linkBitsPerSecond).replace(/ ([GM])bit\/s$/, '$1')}` : s.workload;
      slots.push({ cell: c, label, sub: c ? (on ? 'with' : 'without') : 'not run', color: on ? SIDE_COLOR.on : SIDE_COLOR.off, legend: c ? legend : '' });
      if (!c) missing.push(`${where}: this matrix has no run ${on ? 'with' : 'without'} ${t.name} and otherwise the same settings, so that side is missing`);
    }
  }
  return { slots, missing };
}

/** A comparison's charts, side by side across the page: one bar per cell at its median (hover: the min–max and k/N). */
function groupCharts(slots: readonly Slot[]): string {
  const cats = slots.map((x) => x.label);
  const subs = slots.map((x) => x.sub);
  const cells = slots.map((x) => x.cell);
  // up to 8 bars: three charts a row; more: one a row across the page (past 1500 units it scrolls rather than shrink its text)
  const wide = slots.length > 8;
  const width = wide ? Math.max(1180, 80 * slots.length + 100) : 400;
  const medianOf = (c: Cell, f: (r: RunResult) => number): number => spread(c.runs.filter((r) => r.status === 'completed').map(f)).median;
  const tooltip = (i: number): string => {
    const c = cells[i];
    if (!c) return slots[i]!.sub === 'not run' ? 'not run in this matrix' : '';
    return `${c.spec.id}: converged ${c.converged}/${c.runs.length}, total ${med(c.totalMs)} ms, downtime ${med(c.downtimeMs)} ms (net ${med(c.netDowntimeMs)}), ${med(c.bytes, mib)} MiB`;
  };
  // one legend entry per colour that a bar which ran uses
  const legends = [...new Map(slots.filter((x) => x.cell && x.legend).map((x) => [x.legend, x.color])).entries()];
  const bySlot = (f: (c: Cell) => number) =>
    legends.map(([name, color]) => ({ name, color, values: slots.map((x) => (x.cell && x.legend === name ? f(x.cell) : null)) }));
  const present = cells.filter((c): c is Cell => c !== undefined);
  const maxOf = (f: (c: Cell) => number): number => Math.max(1, ...present.map(f));
  const box = (svg: string): string => `<div class="chart-box">${wide && width > 1500 ? svg.replace('width="100%"', `width="${width}"`) : svg}</div>`;
  // the stacked bytes: each kind's median, the rest of the median total as "other"
  const kind = (f: (r: RunResult) => number) => (c: Cell) => medianOf(c, f) / MiB;
  const zero = kind((r) => r.bytes.zero);
  const normal = kind((r) => r.bytes.normal);
  const delta = kind((r) => r.bytes.delta);
  const per = (name: string, color: string, f: (c: Cell) => number) => ({ name, color, values: cells.map((c) => (c ? f(c) : null)) });
  const downtimeTitle = present.some((c) => c.runs.length > 1) ? 'downtime (ms, median)' : 'downtime (ms)';
  const common = { width, height: 280, slots: slots.length, categories: cats, subLabels: subs, tooltip, xTitle: 'cell' };
  const charts = [
    barChart({ ...common, series: bySlot((c) => c.downtimeMs.median), yMax: maxOf((c) => c.downtimeMs.median), yTick: (v) => `${v}`, yTitle: downtimeTitle, barLabel: (v) => (v > 0 ? f0(v) : '') }),
    barChart({ ...common, series: bySlot((c) => c.totalMs.median), yMax: maxOf((c) => c.totalMs.median), yTick: (v) => `${v / 1000} s`, yTitle: 'total time' }),
    barChart({
      ...common,
      series: [
        per('zero pages', KIND_COLOR.zero, zero),
        per('whole pages', KIND_COLOR.normal, normal),
        per('deltas', KIND_COLOR.delta, delta),
        per('headers, device state', KIND_COLOR.other, (c) => Math.max(0, c.bytes.median / MiB - zero(c) - normal(c) - delta(c))),
      ].filter((s) => s.values.some((v) => v !== null && v > 0)),
      yMax: maxOf((c) => c.bytes.median / MiB),
      yTick: (v) => `${v}`,
      yTitle: 'MiB on the wire',
    }),
  ];
  return `<div class="charts${wide ? ' wide' : ''}">${charts.map(box).join('\n')}</div>`;
}

/** A comparison's section: a policy's with and without side by side, or the cells of any other axis. */
function comparisonSection(name: string, group: readonly Cell[], all: readonly Cell[]): string {
  const t = TOGGLES[name];
  const { slots, missing } = t ? toggleSlots(group, all, t) : { slots: codecSlots(group), missing: [] };
  const note = t ? `<p class="meta">Each pair: the same guest, link and settings without ${esc(t.name)} and with it, from this run of the matrix.</p>` : '';
  const gaps = missing.length ? `<p class="missing">${missing.map(esc).join('<br>')}</p>` : '';
  return `<section><h2>Comparison: ${esc(name)}</h2>${note}${gaps}${groupCharts(slots)}</section>`;
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
  const sections = [...groups].map(([name, cs]) => comparisonSection(name, cs, cells));
  const t = (x: { head: string[]; rows: string[][] }): string => htmlTable(x.head, x.rows);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>livemig benchmark: ${esc(m.matrix)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:12px;margin:1em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right;white-space:nowrap}
th{background:#f3f3f3}
svg{height:auto;display:block;margin:0.5em 0}
.charts{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:16px}
.charts.wide{grid-template-columns:minmax(0,1fr)}
.chart-box{overflow-x:auto;border:1px solid #e4e4e4;border-radius:6px;padding:4px}
.missing{color:#8a4b00;background:#fdf3e7;border-left:4px solid #e8a33d;padding:6px 10px}
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
