/**
 * What a benchmark run prints: the results as JSON (every metric and pass record), a markdown
 * table of all runs plus the codec pairs (delta compression against none, all else equal),
 * and a self-contained HTML page with the same tables and a bar chart per comparison (the
 * charts come from the migration report's SVG module, `src/cli/report/svg.ts`).
 */
import { barChart, esc } from '../../src/cli/report/svg.js';
import type { RunSpec } from './matrix.js';
import { linkLabel } from './matrix.js';
import type { RunResult } from './run.js';

export interface BenchMeta {
  matrix: string;
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

/** One codec pair: the same run without and with delta compression. */
export interface CodecPair {
  workload: string;
  link: string;
  ramMiB: number;
  none: RunResult;
  delta: RunResult;
  downtimeRatio: number;
  netDowntimeRatio: number;
  guestDowntimeRatio: number;
  totalTimeChange: number;
  bytesChange: number;
}

const MiB = 1024 * 1024;

/** Pairs each `none` run with the `xbzrle` run that differs from it in the codec only. */
export function codecPairs(runs: readonly RunResult[], codec: 'xbzrle' | 'xbrle' = 'xbzrle'): CodecPair[] {
  const key = (s: RunSpec): string =>
    JSON.stringify([s.workload, s.workloadOptions, s.ramBytes, s.regionPercent, s.vcpus, s.seed, s.linkBitsPerSecond, s.cachePercent, s.cacheWays, s.downtimeLimitMs, s.maxTimeMs, s.autoConverge, s.autoXbzrle]);
  const withDelta = new Map<string, RunResult>();
  for (const r of runs) if (r.spec.codec === codec && r.status !== 'error') withDelta.set(key(r.spec), r);
  const out: CodecPair[] = [];
  const seen = new Set<string>();
  for (const none of runs) {
    if (none.spec.codec !== 'none' || none.status === 'error') continue;
    const k = key(none.spec);
    const delta = withDelta.get(k);
    if (!delta || seen.has(k)) continue;
    seen.add(k);
    out.push({
      workload: none.spec.workload,
      link: linkLabel(none.spec.linkBitsPerSecond),
      ramMiB: none.spec.ramBytes / MiB,
      none,
      delta,
      downtimeRatio: ratio(none.downtimeMs, delta.downtimeMs),
      netDowntimeRatio: ratio(none.netDowntimeMs, delta.netDowntimeMs),
      guestDowntimeRatio: ratio(none.guestDowntimeMs ?? 0, delta.guestDowntimeMs ?? 0),
      totalTimeChange: change(none.totalMs, delta.totalMs),
      bytesChange: change(none.bytes.total, delta.bytes.total),
    });
  }
  return out;
}

function ratio(a: number, b: number): number {
  return b > 0 ? Math.round((a / b) * 10) / 10 : 0;
}

function change(before: number, after: number): number {
  return before > 0 ? Math.round(((after - before) / before) * 1000) / 10 : 0;
}

const f0 = (v: number): string => String(Math.round(v));
const mib = (v: number): string => (v / MiB).toFixed(v >= 10 * MiB ? 0 : 1);
const pct = (v: number): string => `${v > 0 ? '+' : ''}${v.toFixed(1)} %`;
const rate = (v: number): string => (v >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : f0(v));

function statusOf(r: RunResult): string {
  if (r.status === 'error') return `error: ${r.error ?? ''}`.slice(0, 60);
  if (r.status !== 'completed') return r.status;
  return r.forced ? 'forced' : 'converged';
}

function cacheOf(s: RunSpec, r: RunResult): string {
  return s.codec === 'none' ? '-' : `${mib(r.cacheBytes)} MiB ${s.cacheWays}-way`;
}

/** The columns of the all-runs table. */
const COLUMNS: [string, (r: RunResult) => string][] = [
  ['comparison', (r) => r.spec.comparison],
  ['workload', (r) => r.spec.workload + (r.spec.regionPercent < 100 ? ` [${r.spec.regionPercent} %]` : '') + (r.spec.workloadOptions.rate ? ` @${rate(r.spec.workloadOptions.rate)}/s` : '')],
  ['variant', (r) => r.spec.variant],
  ['RAM MiB', (r) => mib(r.spec.ramBytes)],
  ['link', (r) => linkLabel(r.spec.linkBitsPerSecond)],
  ['codec', (r) => r.spec.codec + (r.spec.autoXbzrle ? '+auto' : '') + (r.spec.autoConverge ? ' ac' : '')],
  ['cache', (r) => cacheOf(r.spec, r)],
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
];

function mdTable(head: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

function pairRows(pairs: CodecPair[]): string[][] {
  return pairs.map((p) => [
    p.workload,
    p.link,
    String(p.ramMiB),
    `${statusOf(p.none)} → ${statusOf(p.delta)}`,
    `${f0(p.none.downtimeMs)} → ${f0(p.delta.downtimeMs)} (÷${p.downtimeRatio})`,
    `${f0(p.none.netDowntimeMs)} → ${f0(p.delta.netDowntimeMs)} (÷${p.netDowntimeRatio})`,
    `${p.none.guestDowntimeMs ?? '-'} → ${p.delta.guestDowntimeMs ?? '-'} (÷${p.guestDowntimeRatio})`,
    `${f0(p.none.totalMs)} → ${f0(p.delta.totalMs)} (${pct(p.totalTimeChange)})`,
    `${mib(p.none.bytes.total)} → ${mib(p.delta.bytes.total)} (${pct(p.bytesChange)})`,
    `${p.delta.cacheMissRate.toFixed(2)} / ${p.delta.encodingRate.toFixed(1)} / ${p.delta.overflows}`,
    `${f0(p.none.senderCpuMs)} → ${f0(p.delta.senderCpuMs)}`,
  ]);
}

const PAIR_HEAD = ['workload', 'link', 'RAM MiB', 'result', 'downtime ms', 'net downtime ms', 'guest downtime ms', 'total ms', 'wire MiB', 'XBZRLE miss / enc. / overflows', 'sender CPU ms'];

/** The markdown: how it was made, every run, and the codec pairs. */
export function renderMarkdown(o: BenchOutput): string {
  const m = o.meta;
  const pairs = codecPairs(o.runs);
  return [
    `# livemig benchmark: the \`${m.matrix}\` matrix`,
    '',
    `Command: \`${m.command}\` · ${m.startedAt} · ${(m.elapsedMs / 1000).toFixed(0)} s · ${o.runs.length} runs`,
    `Machine: ${m.cpus} × ${m.cpuModel}, Linux ${m.kernel}, Node ${m.node}; load average ${m.loadAverage.before} at the start, ${m.loadAverage.after} at the end. Links: ${m.link}.`,
    '',
    'A workload\'s [N %] is the share of RAM it writes. Times in ms; "downtime" is livemig\'s, from pausing the guest to the destination\'s confirmation; "net downtime" is the part of it that QEMU\'s and the seed\'s downtime consist of (stopping the vCPUs and sending what was left), without what only livemig does inside it (a sha256 of the RAM on both sides, resuming the guest\'s threads before confirming); "guest downtime" is from the guest\'s last write on the source to its first on the destination. Work rates are the guest\'s page writes per second. "whole" counts page bytes of pages sent whole.',
    '',
    '## Delta compression (XBZRLE) against none, all else equal',
    '',
    pairs.length ? mdTable(PAIR_HEAD, pairRows(pairs)) : '(no pairs in this matrix)',
    '',
    '## Every run',
    '',
    mdTable(
      COLUMNS.map(([h]) => h),
      o.runs.map((r) => COLUMNS.map(([, f]) => f(r))),
    ),
    '',
  ].join('\n');
}

const CODEC_COLOR: Record<string, string> = { none: '#4e79a7', xbzrle: '#f28e2b', xbrle: '#76b7b2' };
const KIND_COLOR = { zero: '#59a14f', normal: '#4e79a7', delta: '#f28e2b', other: '#bab0ac' };

function groupCharts(runs: RunResult[]): string {
  const cats = runs.map((r) => `${r.spec.workload}`);
  const subs = runs.map((r) => r.spec.variant);
  const per = (name: string, color: string, f: (r: RunResult) => number) => ({ name, color, values: runs.map(f) });
  const width = Math.max(480, 72 * runs.length + 100);
  const tooltip = (i: number): string => {
    const r = runs[i]!;
    return `${r.spec.id}: ${statusOf(r)}, total ${f0(r.totalMs)} ms, downtime ${f0(r.downtimeMs)} ms (net ${f0(r.netDowntimeMs)}), ${mib(r.bytes.total)} MiB`;
  };
  const byCodec = (f: (r: RunResult) => number) =>
    ['none', 'xbzrle', 'xbrle'].map((c) => ({ name: c, color: CODEC_COLOR[c]!, values: runs.map((r) => (r.spec.codec === c ? f(r) : null)) }));
  const maxOf = (f: (r: RunResult) => number): number => Math.max(1, ...runs.map(f));
  const box = (svg: string): string => `<div class="chart" style="max-width:${width}px">${svg}</div>`;
  return [
    barChart({ width, height: 260, categories: cats, subLabels: subs, series: byCodec((r) => r.downtimeMs), yMax: maxOf((r) => r.downtimeMs), yTick: (v) => `${v}`, xTitle: 'run', yTitle: 'downtime (ms)', tooltip, barLabel: (t) => f0(t) }),
    barChart({ width, height: 260, categories: cats, subLabels: subs, series: byCodec((r) => r.totalMs), yMax: maxOf((r) => r.totalMs), yTick: (v) => `${v / 1000} s`, xTitle: 'run', yTitle: 'total time', tooltip }),
    barChart({
      width,
      height: 260,
      categories: cats,
      subLabels: subs,
      series: [
        per('zero pages', KIND_COLOR.zero, (r) => r.bytes.zero / MiB),
        per('whole pages', KIND_COLOR.normal, (r) => r.bytes.normal / MiB),
        per('deltas', KIND_COLOR.delta, (r) => r.bytes.delta / MiB),
        per('headers, device state', KIND_COLOR.other, (r) => Math.max(0, r.bytes.total - r.bytes.zero - r.bytes.normal - r.bytes.delta) / MiB),
      ],
      yMax: maxOf((r) => r.bytes.total / MiB),
      yTick: (v) => `${v}`,
      xTitle: 'run',
      yTitle: 'MiB on the wire',
      tooltip,
    }),
  ]
    .map(box)
    .join('\n');
}

function htmlTable(head: string[], rows: string[][]): string {
  return `<div class="table"><table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table></div>`;
}

/** The HTML page: self-contained (inline CSS and SVG, no script). */
export function renderHtml(o: BenchOutput): string {
  const m = o.meta;
  const groups = new Map<string, RunResult[]>();
  for (const r of o.runs) groups.set(r.spec.comparison, [...(groups.get(r.spec.comparison) ?? []), r]);
  const pairs = codecPairs(o.runs);
  const sections = [...groups].map(([name, runs]) => `<section><h2>Comparison: ${esc(name)}</h2>${groupCharts(runs)}</section>`);
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
<p class="meta">${esc(m.command)} · ${esc(m.startedAt)} · ${(m.elapsedMs / 1000).toFixed(0)} s · ${o.runs.length} runs · ${m.cpus} × ${esc(m.cpuModel)}, Linux ${esc(m.kernel)}, Node ${esc(m.node)} · load average ${m.loadAverage.before} → ${m.loadAverage.after} · links: ${esc(m.link)}</p>
<h2>Delta compression (XBZRLE) against none, all else equal</h2>
${pairs.length ? htmlTable(PAIR_HEAD, pairRows(pairs)) : '<p>(no pairs)</p>'}
${sections.join('\n')}
<h2>Every run</h2>
${htmlTable(
    COLUMNS.map(([h]) => h),
    o.runs.map((r) => COLUMNS.map(([, f]) => f(r))),
  )}
</body></html>
`;
}
