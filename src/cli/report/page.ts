/**
 * The HTML report of one or more migrations (`--report FILE.html`): title, parameters, a
 * summary table with a column per run, and plots with the runs side by side on shared
 * scales. One self-contained file: inline CSS and inline SVG, no script, no font, no URL,
 * so it opens offline and can be mailed around.
 */
import { accessSync, constants } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import { byteUnit, formatBytes, formatCount, formatMs, formatRate, trim } from './format.js';
import { describeSettings } from './label.js';
import type { ReportRun } from './recorder.js';
import { runSeries } from './series.js';
import type { RunSeries } from './series.js';
import { barChart, esc, hbarChart, lineChart } from './svg.js';

export interface ReportOptions {
  /** The page's title (default "livemig migration report"). */
  title?: string;
  /** One sentence under the title: what was migrated, how. */
  subtitle?: string;
  /** The parameters table: [name, value], already formatted. */
  parameters?: readonly (readonly [string, string])[];
  /** Shown in the page's header (default now). */
  generatedAt?: Date;
}

const KIND = { normal: '#4e79a7', delta: '#f28e2b', zero: '#59a14f', other: '#bab0ac' };
const RUN_COLORS = ['#f28e2b', '#4e79a7', '#76b7b2', '#b07aa1', '#9c755f'];

/**
 * Renders the report page.
 * @throws InvalidArgumentError when `runs` is empty.
 */
export function renderMigrationReport(runs: readonly ReportRun[], options: ReportOptions = {}): string {
  if (runs.length === 0) throw new InvalidArgumentError('a migration report needs at least one run');
  // one throughput step for all runs, so their plots compare
  const longestMs = Math.max(0, ...runs.map((r) => Math.max(r.info['total-time'] ?? 0, ...r.passes.map((p) => p.endMs))));
  const series = runs.map((r) => runSeries(r, longestMs));
  const title = options.title ?? 'livemig migration report';
  const when = (options.generatedAt ?? new Date()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const body = [
    `<header><h1>${esc(title)}</h1>${options.subtitle ? `<p class="subtitle">${esc(options.subtitle)}</p>` : ''}<p class="meta">Generated ${esc(when)} by livemig · ${runs.length} migration${runs.length > 1 ? 's' : ''} · a self-contained page: no scripts, nothing fetched</p></header>`,
    options.parameters && options.parameters.length > 0 ? parametersSection(options.parameters) : '',
    summarySection(runs, series),
    plots(runs, series),
    '<footer>Pass numbers are those of the migration\'s pass records (the telemetry\'s <code>pass</code> field). Byte counts are what went on the wire, from the source\'s counters; hover a bar for its numbers.</footer>',
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body.filter(Boolean).join('\n')}
</main>
</body>
</html>
`;
}

/**
 * Writes the report to `path` (created or replaced).
 * @throws InvalidArgumentError when `runs` is empty; the file system's error when it cannot write.
 */
export async function writeMigrationReport(path: string, runs: readonly ReportRun[], options: ReportOptions = {}): Promise<void> {
  await writeFile(path, renderMigrationReport(runs, options));
}

/**
 * Checks, before any work, that a report can be written to `path` (its folder exists and is
 * writable); `option` names the command-line option in the message.
 * @throws InvalidArgumentError when it cannot.
 */
export function checkReportPath(path: string, option = 'report'): void {
  const dir = dirname(resolve(path));
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new InvalidArgumentError(`${option}: cannot write into ${dir}: ${(e as Error).message}`, { cause: e });
  }
}

function parametersSection(params: readonly (readonly [string, string])[]): string {
  const rows = params.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`).join('');
  return `<section id="parameters"><h2>Parameters</h2><table class="params">${rows}</table></section>`;
}

function summarySection(runs: readonly ReportRun[], series: readonly RunSeries[]): string {
  type Row = [string, (r: ReportRun, s: RunSeries) => string];
  const ram = (r: ReportRun) => r.info.ram;
  const xb = (r: ReportRun) => r.info['xbzrle-cache'];
  const sum = (r: ReportRun, f: (p: ReportRun['passes'][number]) => number) => r.passes.reduce((a, p) => a + f(p), 0);
  const rows: Row[] = [
    ['status', (r) => `${r.info.status ?? '-'}${r.info.livemig?.['forced-switchover'] ? ' (switchover forced at the time limit)' : ''}${r.info['error-desc'] ? `: ${r.info['error-desc']}` : ''}`],
    ['delta compression', (r) => (r.info.livemig?.codec && r.info.livemig.codec !== 'none' ? r.info.livemig.codec.toUpperCase() : 'off')],
    ['bandwidth', (r) => bandwidthText(r)],
    ['page cache', (r) => (r.parameters?.['xbzrle-cache-size'] !== undefined && r.info.livemig?.codec !== 'none' ? `${formatBytes(r.parameters['xbzrle-cache-size'])}${r.parameters['cache-ways'] !== undefined ? `, ${r.parameters['cache-ways']}-way` : ''}` : '-')],
    ['total time', (r) => formatMs(r.info['total-time'] ?? 0)],
    ['downtime (guest paused)', (r, s) => (r.info.downtime !== undefined ? formatMs(r.info.downtime) + (s.downtimeLimitMs !== undefined ? ` (limit ${formatMs(s.downtimeLimitMs)})` : '') : '-')],
    ['expected downtime at switchover', (_r, s) => (s.expectedAtSwitchoverMs !== undefined ? formatMs(s.expectedAtSwitchoverMs) : '-')],
    ['bytes on the wire', (r) => (ram(r) ? `${formatBytes(ram(r)!.transferred)} (${formatCount(ram(r)!.transferred)} B)` : '-')],
    ['… of which while paused', (r) => (ram(r) ? formatBytes(ram(r)!['downtime-bytes']) : '-')],
    ['guest RAM', (r) => (ram(r) ? formatBytes(ram(r)!.total) : '-')],
    ['passes', (r) => { const n = ram(r)?.['dirty-sync-count']; return n !== undefined && n !== r.passes.length ? `${r.passes.length} (dirty-sync-count ${n})` : String(r.passes.length); }],
    ['pages sent whole', (r) => formatCount(sum(r, (p) => p.pages.normal))],
    ['delta pages sent', (r) => formatCount(sum(r, (p) => p.pages.delta))],
    ['zero pages', (r) => formatCount(sum(r, (p) => p.pages.zero))],
    ['unchanged pages (not sent)', (r) => formatCount(sum(r, (p) => p.pages.unchanged))],
    ['cache misses', (r) => (xb(r) ? `${formatCount(xb(r)!['cache-miss'])} of ${formatCount(sum(r, (p) => p.cacheHits + p.cacheMisses))} lookups` : '-')],
    ['encoding rate', (r) => { const x = xb(r); return x && x.bytes > 0 ? `${trim((x.pages * 4096) / x.bytes)} page bytes per delta byte` : '-'; }],
    ['overflows', (r) => (xb(r) ? formatCount(xb(r)!.overflow) : '-')],
    ['average throughput', (r) => { const t = (r.info['total-time'] ?? 0) - (r.info['setup-time'] ?? 0); return ram(r) && t > 0 ? formatRate((ram(r)!.transferred * 1000) / t) : '-'; }],
  ];
  // what each used, from its data, unless every label already says it (livemig run's do)
  if (runs.some((r) => !r.label.endsWith(describeSettings(r)))) rows.splice(1, 0, ['what it used', (r) => describeSettings(r)]);
  // rows only some migrations have: auto-converge, auto-xbzrle, the guest's work rate
  if (runs.some((r) => r.info.livemig?.['auto-converge'])) rows.push(['auto-converge: highest vCPU throttle', (r) => { const a = r.info.livemig?.['auto-converge']; return a ? `${a['max-cpu-throttle-reached']} % (${a.steps.length} steps)` : '-'; }]);
  if (runs.some((r) => r.info.livemig?.['delta-assessment'])) rows.push(['delta compression on the wire', (r) => { const a = r.info.livemig?.['delta-assessment']; return a ? `${a.verdict} (gain ${trim(a.gain)}, judged at pass ${a.pass})` : '-'; }]);
  if (runs.some((r) => r.info.livemig?.['delta-disabled-at-pass'])) rows.push(['delta compression switched off', (r) => { const n = r.info.livemig?.['delta-disabled-at-pass']; return n ? `at pass ${n}` : '-'; }]);
  if (runs.some((r) => r.info.livemig?.['guest-work-rate'] !== undefined)) rows.push(['guest page writes per second (before switchover)', (r) => { const n = r.info.livemig?.['guest-work-rate']; return n !== undefined ? formatCount(n) : '-'; }]);
  if (runs.some((r) => r.digestsMatch !== undefined)) rows.push(['RAM digests (source = destination)', (r) => (r.digestsMatch === undefined ? '-' : r.digestsMatch ? 'matched' : 'MISMATCH')]);
  const head = `<tr><th></th>${runs.map((r, i) => `<th scope="col"><span class="swatch" style="background:${runColor(i)}"></span>${esc(r.label)}</th>`).join('')}</tr>`;
  const body = rows.map(([name, f]) => `<tr><th scope="row">${esc(name)}</th>${runs.map((r, i) => `<td>${esc(f(r, series[i]!))}</td>`).join('')}</tr>`).join('');
  return `<section id="summary"><h2>Summary</h2>${outcomes(runs)}${comparison(runs)}<table class="summary"><thead>${head}</thead><tbody>${body}</tbody></table></section>`;
}

/**
 * What happened to each migration that did not complete, in words: when it stopped, after
 * which pass, what it had sent (from its pass records and final counters).
 */
function outcomes(runs: readonly ReportRun[]): string {
  const lines = runs.flatMap((r, i) => {
    const text = outcomeText(r);
    return text ? [`<p class="outcome"><span class="swatch" style="background:${runColor(i)}"></span><strong>${esc(r.label)}</strong> ${esc(text)}</p>`] : [];
  });
  return lines.length ? `<div id="outcomes">${lines.join('')}</div>` : '';
}

/** "was cancelled 1.2 s after it started, in the pass after pass 2: ..." or undefined for a completed run. */
export function outcomeText(r: ReportRun): string | undefined {
  const status = r.info.status;
  if (status === 'completed') return undefined;
  const verb = status === 'cancelled' ? 'was cancelled' : status === 'failed' ? 'failed' : `ended ${status ?? 'without a status'}`;
  const at = r.info['total-time'] !== undefined ? ` ${formatMs(r.info['total-time'])} after it started` : '';
  const last = r.passes[r.passes.length - 1];
  // the pass number as the pass record gives it
  const stopped = last?.stage === 'stop-and-copy';
  const where = last
    ? stopped
      ? `, after its stop-and-copy pass (pass ${last.pass}, sent with the guest paused) and before the switchover ended`
      : `, in the pass after pass ${last.pass} (${r.passes.length} pass${r.passes.length > 1 ? 'es' : ''} complete)`
    : ', before its first pass ended';
  const ram = r.info.ram;
  const sent = ram?.transferred ?? 0;
  const inPasses = r.passes.reduce((a, p) => a + p.bytes.total, 0);
  const pages = [
    ram && ram.normal > 0 ? `${formatCount(ram.normal)} pages whole` : '',
    r.info['xbzrle-cache'] && r.info['xbzrle-cache'].pages > 0 ? `${formatCount(r.info['xbzrle-cache'].pages)} as deltas` : '',
    ram && ram.duplicate > 0 ? `${formatCount(ram.duplicate)} zero pages` : '',
  ].filter(Boolean);
  const what = sent > 0
    ? `; it had sent ${formatBytes(sent)}${pages.length ? ` (${pages.join(', ')})` : ''}${last && !stopped && sent > inPasses ? `, ${formatBytes(sent - inPasses)} of it in the unfinished pass` : ''}`
    : '; it had sent nothing';
  const why = r.info['error-desc'] ? `: ${r.info['error-desc']}` : '';
  const plotted = r.passes.length === 0 ? '. No pass ended, so its per-pass plots are left out.' : '. Its plots show the passes that ended.';
  return `${verb}${at}${where}${why}${what}${plotted}`;
}

/** "no delta compression sent 1.9× the bytes of XBZRLE, with 10.3× its downtime." for each completed run after the first completed one. */
function comparison(allRuns: readonly ReportRun[]): string {
  const runs = allRuns.filter((r) => r.info.status === 'completed');
  if (runs.length < 2) return '';
  const base = runs[0]!;
  const bb = base.info.ram?.transferred ?? 0;
  const bd = base.info.downtime;
  const lines: string[] = [];
  for (const r of runs.slice(1)) {
    const b = r.info.ram?.transferred ?? 0;
    const parts: string[] = [];
    if (bb > 0 && b > 0) parts.push(`sent ${trim(b / bb)}× the bytes of ${base.label}`);
    if (bd !== undefined && bd > 0 && r.info.downtime !== undefined) parts.push(`${parts.length ? 'with ' : 'had '}${trim(r.info.downtime / bd)}× its downtime`);
    if (parts.length) lines.push(`<strong>${esc(r.label)}</strong> ${esc(parts.join(', '))}.`);
  }
  return lines.length ? `<p class="headline">${lines.join(' ')}</p>` : '';
}

/** A run's place in a figure: its index (for its colour) and its series. */
interface Shown {
  i: number;
  s: RunSeries;
}

/**
 * The plots. A run with nothing to draw in a figure (no pass ended, no progress sample, no
 * cache lookup, no downtime) gets no empty chart there: the figure names it and says why.
 */
function plots(runs: readonly ReportRun[], series: readonly RunSeries[]): string {
  const all: Shown[] = series.map((s, i) => ({ i, s }));
  const slots = Math.max(1, ...series.map((s) => s.passLabels.length));
  const out: string[] = ['<section id="plots">'];
  const why = (i: number, fallback: string): string => {
    const r = runs[i]!;
    return r.info.status === 'completed' ? fallback : `${r.info.status ?? 'did not complete'}${r.passes.length === 0 ? ' before its first pass ended' : ''}`;
  };
  const noPass = (x: Shown) => `${x.s.label}: ${why(x.i, 'no pass recorded')}`;
  const withPasses = all.filter((x) => x.s.passLabels.length > 0);
  const omitted = all.filter((x) => x.s.passLabels.length === 0).map(noPass);

  if (withPasses.length > 0) {
    const { width, height } = size(withPasses.length);
    // 1. bytes per pass by kind
    const bytesMax = Math.max(1, ...withPasses.flatMap((x) => x.s.bytes.total));
    const bu = byteUnit(bytesMax);
    out.push(figure('bytes-per-pass', 'Bytes sent per pass, by page kind',
      'What each pass put on the wire: whole 4 KiB pages, delta-encoded pages, zero pages (a byte each) and framing (record headers, sections, device state, end of stream). The label is the pass\'s total; the shaded pass is stop-and-copy, sent with the guest paused.',
      withPasses.map(({ i, s }) => [i, s.label, barChart({
        width, height, slots,
        categories: s.passLabels, subLabels: s.passSubLabels, shaded: s.stopIndex >= 0 ? [s.stopIndex] : [],
        series: [
          { name: 'whole pages', color: KIND.normal, values: s.bytes.normal.map((v) => v / bu.bytes) },
          { name: 'delta pages', color: KIND.delta, values: s.bytes.delta.map((v) => v / bu.bytes) },
          { name: 'zero pages', color: KIND.zero, values: s.bytes.zero.map((v) => v / bu.bytes) },
          { name: 'framing', color: KIND.other, values: s.bytes.other.map((v) => v / bu.bytes) },
        ],
        yMax: bytesMax / bu.bytes,
        yTick: (v) => trim(v),
        barLabel: (_t, k) => formatBytes(s.bytes.total[k] ?? 0),
        tooltip: (k) => passTip(s, k),
        xTitle: 'pass', yTitle: `bytes on the wire (${bu.name})`,
      })]), omitted));

    // 2. pages per pass by kind
    const handledMax = Math.max(1, ...withPasses.flatMap((x) => x.s.pagesToSend));
    out.push(figure('pages-per-pass', 'Pages per pass, by how they were sent',
      'The same passes counted in pages: a whole page costs 4 KiB on the wire, a delta page a few bytes, a zero page one byte, an unchanged page nothing.',
      withPasses.map(({ i, s }) => [i, s.label, barChart({
        width, height, slots,
        categories: s.passLabels, subLabels: s.passSubLabels, shaded: s.stopIndex >= 0 ? [s.stopIndex] : [],
        series: [
          { name: 'whole', color: KIND.normal, values: s.pages.normal },
          { name: 'delta', color: KIND.delta, values: s.pages.delta },
          { name: 'zero', color: KIND.zero, values: s.pages.zero },
          { name: 'unchanged (not sent)', color: '#d4c9a8', values: s.pages.unchanged },
        ],
        yMax: handledMax,
        yTick: (v) => formatCount(v),
        tooltip: (k) => `pass ${s.passLabels[k]}: ${formatCount(s.pages.normal[k] ?? 0)} whole, ${formatCount(s.pages.delta[k] ?? 0)} delta, ${formatCount(s.pages.zero[k] ?? 0)} zero, ${formatCount(s.pages.unchanged[k] ?? 0)} unchanged`,
        xTitle: 'pass', yTitle: 'pages (4 KiB)',
      })]), omitted));

    // 3. dirty pages per pass
    const pagesMax = Math.max(1, ...withPasses.flatMap((x) => [...x.s.pagesToSend, ...x.s.newlyDirty]));
    out.push(figure('dirty-pages', 'Dirty pages per pass',
      'Bars: pages dirty when the pass started, which it had to send. Dots: pages the dirty-log sync that started the pass found newly written.',
      withPasses.map(({ i, s }) => [i, s.label, barChart({
        width, height, slots,
        categories: s.passLabels, subLabels: s.passSubLabels, shaded: s.stopIndex >= 0 ? [s.stopIndex] : [],
        series: [{ name: 'pages to send', color: '#8cb0d6', values: s.pagesToSend }],
        overlay: { name: 'newly dirtied', color: '#e15759', values: s.newlyDirty },
        yMax: pagesMax,
        yTick: (v) => formatCount(v),
        tooltip: (k) => `pass ${s.passLabels[k]}: ${formatCount(s.pagesToSend[k] ?? 0)} pages to send, ${formatCount(s.newlyDirty[k] ?? 0)} newly dirtied`,
        xTitle: 'pass', yTitle: 'pages (4 KiB)',
      })]), omitted));

    // 4. cache miss rate per pass: only runs that looked the cache up
    const looked = withPasses.filter((x) => x.s.missRatePercent.some((v) => v !== null));
    const noCache = [...omitted, ...withPasses.filter((x) => !looked.includes(x)).map((x) => `${x.s.label}: ${x.s.deltaOn ? 'no cache lookup in any pass' : 'no page cache, delta compression was off'}`)];
    if (looked.length > 0) {
      const d = size(looked.length);
      out.push(figure('cache-miss-rate', 'Cache miss rate per pass',
        'Share of page-cache lookups that missed; a miss sends the whole page. No bar: the pass looked nothing up (the first pass fills the cache).',
        looked.map(({ i, s }) => [i, s.label, barChart({
          width: d.width, height: d.height, slots,
          categories: s.passLabels, subLabels: s.passSubLabels, shaded: s.stopIndex >= 0 ? [s.stopIndex] : [],
          series: [{ name: 'cache misses per lookup', color: '#b07aa1', values: s.missRatePercent }],
          yMax: 100,
          yTick: (v) => trim(v),
          barLabel: (_t, k) => { const v = s.missRatePercent[k]; return v === null || v === undefined ? '' : `${trim(v)} %`; },
          tooltip: (k) => { const v = s.missRatePercent[k]; return `pass ${s.passLabels[k]}: ${v === null || v === undefined ? 'no lookups' : `${trim(v)} % of lookups missed`}`; },
          xTitle: 'pass', yTitle: 'cache misses (% of lookups)',
        })]), noCache));
    } else {
      out.push(`<p class="note" id="cache-miss-rate">No cache-miss plot: ${esc(noCache.join('; '))}.</p>`);
    }
  } else {
    out.push(`<p class="note" id="no-pass">No per-pass plot: no migration ended a pass (${esc(omitted.join('; '))}).</p>`);
  }

  // 5. throughput over time
  const tMax = Math.max(0.001, ...series.map((s) => s.totalMs / 1000));
  const flowing = all.filter((x) => x.s.throughput.length > 0);
  const noFlow = all.filter((x) => x.s.throughput.length === 0).map((x) => `${x.s.label}: ${why(x.i, 'no progress sample')}`);
  if (flowing.length > 0) {
    const { width, height } = size(flowing.length);
    const rateMax = Math.max(1, ...flowing.flatMap((x) => [...x.s.throughput.map((p) => p[1]), x.s.linkBytesPerSecond ?? 0]));
    const ru = byteUnit(rateMax);
    out.push(figure('throughput', 'Throughput over time',
      'Bytes per second on the wire, in steps of at least 250 ms (bytes are counted as each 1 MiB buffer is flushed, so short steps are noisy). Dotted lines: pass starts (with the pass number). Red band: the downtime, with the guest paused.',
      flowing.map(({ i, s }) => [i, s.label, lineChart({
        width, height, xMax: tMax, yMax: rateMax / ru.bytes,
        series: [{ name: 'throughput', color: KIND.normal, area: true, points: s.throughput.map(([x, y]) => [x, y / ru.bytes] as [number, number]) }],
        rules: s.linkBytesPerSecond ? [{ y: s.linkBytesPerSecond / ru.bytes, label: `${s.linkIsSimulated ? 'link speed' : 'bandwidth limit'} ${formatRate(s.linkBytesPerSecond)}`, color: '#999' }] : [],
        marks: s.passStarts,
        bands: downtimeBand(s),
        xTick: (v) => trim(v), yTick: (v) => trim(v),
        xTitle: 'time since the migration started (s)', yTitle: `throughput (${ru.name}/s)`,
      })]), noFlow));
  }

  // 6. dirty RAM left over time
  // a line needs samples over some time (the recorder samples every 100 ms): one cancelled at once has none
  const timeline = (x: Shown) => x.s.remaining.length > 1 && x.s.remaining[x.s.remaining.length - 1]![0] - x.s.remaining[0]![0] >= 0.1;
  const sampled = all.filter(timeline);
  if (sampled.length > 0) {
    const { width, height } = size(sampled.length);
    const remMax = Math.max(1, ...sampled.flatMap((x) => x.s.remaining.map((p) => p[1])));
    const mu = byteUnit(remMax);
    out.push(figure('remaining', 'Dirty RAM left to send over time',
      'It falls while a pass sends and jumps at each dirty-log sync; the migration switches over when what is left fits the downtime limit (or at the time limit).',
      sampled.map(({ i, s }) => [i, s.label, lineChart({
        width, height, xMax: tMax, yMax: remMax / mu.bytes,
        series: [{ name: 'dirty RAM left', color: '#e15759', points: s.remaining.map(([x, y]) => [x, y / mu.bytes] as [number, number]) }],
        marks: s.passStarts,
        bands: downtimeBand(s),
        xTick: (v) => trim(v), yTick: (v) => trim(v),
        xTitle: 'time since the migration started (s)', yTitle: `dirty RAM (${mu.name})`,
      })]), all.filter((x) => !timeline(x)).map((x) => `${x.s.label}: ${why(x.i, 'no progress sample')}`)));
  }

  // 7. downtime, the runs that had one on one scale
  const paused = all.filter((x) => x.s.downtimeMs !== undefined);
  if (paused.length > 0) {
    const limit = paused.find((x) => x.s.downtimeLimitMs !== undefined)?.s.downtimeLimitMs;
    const dMax = Math.max(1, ...paused.map((x) => Math.max(x.s.downtimeMs ?? 0, x.s.expectedAtSwitchoverMs ?? 0)));
    const left = all.filter((x) => x.s.downtimeMs === undefined).map((x) => `${x.s.label}: ${why(x.i, 'no downtime recorded')}, the guest was not paused for a switchover`);
    out.push(`<figure class="plot wide" id="downtime"><h2>Downtime</h2><p class="note">How long the guest was paused for the stop-and-copy stage (until the destination confirmed). Black tick: the downtime expected when the migration switched over.</p>${hbarChart({
      width: 1100,
      rows: paused.map(({ i, s }) => ({ label: s.label, value: s.downtimeMs ?? 0, color: runColor(i), valueLabel: formatMs(s.downtimeMs ?? 0), ...(s.expectedAtSwitchoverMs !== undefined ? { marker: s.expectedAtSwitchoverMs } : {}) })),
      xMax: dMax,
      xTick: (v) => trim(v),
      xTitle: 'downtime (ms)',
      markerName: 'expected at switchover',
      ...(limit !== undefined ? { limit: { value: limit, label: `downtime limit ${formatMs(limit)}` } } : {}),
    })}${notShown(left)}</figure>`);
  }
  out.push('</section>');
  return out.join('\n');
}

/** A chart's size for `n` runs side by side (up to three a row). */
function size(n: number): { width: number; height: number } {
  return { width: n === 1 ? 1100 : n === 2 ? 560 : 380, height: n === 1 ? 300 : 280 };
}

function notShown(left: readonly string[]): string {
  return left.length ? `<p class="not-shown">Not shown: ${esc(left.join('; '))}.</p>` : '';
}

function bandwidthText(r: ReportRun): string {
  const p = r.parameters;
  if (!p) return '-';
  const parts: string[] = [];
  if ((p['link-bandwidth'] ?? 0) > 0) parts.push(`link ${formatRate(p['link-bandwidth']!)}`);
  if (p['max-bandwidth'] !== undefined) parts.push(p['max-bandwidth'] > 0 ? `limit ${formatRate(p['max-bandwidth'])} while iterating` : 'no limit while iterating');
  return parts.join(', ') || '-';
}

function figure(id: string, title: string, note: string, cells: readonly (readonly [number, string, string])[], left: readonly string[] = []): string {
  const grid = cells.map(([i, label, svg]) => `<div class="cell"><h3><span class="swatch" style="background:${runColor(i)}"></span>${esc(label)}</h3>${svg}</div>`).join('');
  return `<figure class="plot" id="${id}"><h2>${esc(title)}</h2><p class="note">${esc(note)}</p><div class="grid" style="--cols:${Math.min(cells.length, 3)}">${grid}</div>${notShown(left)}</figure>`;
}

function downtimeBand(s: RunSeries): { x0: number; x1: number; label: string; color: string }[] {
  if (s.downtimeMs === undefined) return [];
  const x1 = s.totalMs / 1000;
  return [{ x0: x1 - s.downtimeMs / 1000, x1, label: `downtime ${formatMs(s.downtimeMs)}`, color: '#f6c9c9' }];
}

function passTip(s: RunSeries, i: number): string {
  const b = s.bytes;
  return `pass ${s.passLabels[i]}${s.passSubLabels[i] ? ' (stop-and-copy)' : ''}: ${formatBytes(b.total[i] ?? 0)} in all; whole pages ${formatBytes(b.normal[i] ?? 0)}, deltas ${formatBytes(b.delta[i] ?? 0)}, zero pages ${formatBytes(b.zero[i] ?? 0)}, framing ${formatBytes(b.other[i] ?? 0)}`;
}

function runColor(i: number): string {
  return RUN_COLORS[i % RUN_COLORS.length]!;
}

const CSS = `
:root { color-scheme: light; --ink: #1f2328; --muted: #5b636d; --line: #d8dde3; --bg: #fff; --panel: #f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 4px; }
h3 { font-size: 15px; margin: 0 0 4px; font-weight: 600; }
header { border-bottom: 1px solid var(--line); padding-bottom: 12px; margin-bottom: 20px; }
.subtitle { margin: 0 0 4px; font-size: 16px; }
.headline { margin: 0 0 10px; font-size: 16px; }
.meta, .note, footer { color: var(--muted); font-size: 13px; }
.note { margin: 0 0 10px; max-width: 900px; }
section { margin-bottom: 28px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 5px 12px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); }
tbody th, .params th { font-weight: 500; color: var(--muted); }
.summary td { font-variant-numeric: tabular-nums; }
.params { columns: 1; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
figure.plot { margin: 0 0 30px; padding: 14px 16px 8px; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; break-inside: avoid; }
.grid { display: grid; grid-template-columns: repeat(var(--cols), minmax(0, 1fr)); gap: 18px; }
.cell { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 8px 8px 2px; }
svg.chart { display: block; height: auto; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #333; }
svg text.axis-title { font-size: 12px; fill: var(--muted); }
svg text.val { font-size: 11px; fill: #222; }
svg text.sub { font-size: 11px; fill: #8a6d1f; }
svg text.mark { font-size: 10px; fill: #888; }
svg text.band-label { font-size: 11px; fill: #b03a2e; }
svg text.row { font-size: 13px; fill: var(--ink); }
svg g.bar:hover rect:not([fill="transparent"]) { opacity: 0.8; }
p.outcome { margin: 0 0 8px; padding: 8px 12px; background: #fdf3e7; border-left: 4px solid #e8a33d; border-radius: 4px; }
.not-shown { color: var(--muted); font-size: 13px; margin: 8px 0 0; }
footer { border-top: 1px solid var(--line); padding-top: 10px; }
@media print { figure.plot { background: none; } }
`;
