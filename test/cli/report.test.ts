/**
 * The HTML report: self-contained (no URL, script, external style or font), every plot
 * present with axes and legends for the data given, labels escaped, runs side by side, no
 * NaN anywhere; also from a real migration recorded with RunRecorder.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunRecorder, renderMigrationReport, writeMigrationReport } from '../../src/cli/report/index.js';
import type { ReportRun } from '../../src/cli/report/index.js';
import { formatBytes, formatMs, trim } from '../../src/cli/report/format.js';
import { niceTicks } from '../../src/cli/report/svg.js';
import { runSeries } from '../../src/cli/report/series.js';
import { migrateSmall, syntheticRuns, tempDir } from './helpers.js';

const tmp = tempDir('livemig-report-');
after(tmp.remove);

const FIGURES = ['bytes-per-pass', 'pages-per-pass', 'dirty-pages', 'cache-miss-rate', 'throughput', 'remaining', 'downtime'];

/** The `<figure id=...>` element's HTML. */
function figure(html: string, id: string): string {
  const start = html.indexOf(`<figure class="plot${id === 'downtime' ? ' wide' : ''}" id="${id}">`);
  assert.ok(start >= 0, `figure #${id} is missing`);
  return html.slice(start, html.indexOf('</figure>', start));
}

function count(html: string, re: RegExp): number {
  return (html.match(re) ?? []).length;
}

/** What makes a page not self-contained or broken. */
function assertSelfContained(html: string): void {
  assert.doesNotMatch(html, /https?:|\/\/[a-z0-9-]+\.[a-z]/i, 'no URL of any kind');
  assert.doesNotMatch(html, /<script/i, 'no script');
  assert.doesNotMatch(html, /<link\b/i, 'no external stylesheet');
  assert.doesNotMatch(html, /@import|url\(|@font-face/i, 'no fetched CSS, image or font');
  assert.doesNotMatch(html, /<(img|iframe|object|embed)\b/i, 'no embedded resource');
  assert.doesNotMatch(html, /<[^>]*\ssrc=/i, 'no src attribute');
  assert.doesNotMatch(html, /NaN|Infinity|undefined|\[object/, 'no broken numbers or values');
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<meta charset="utf-8">/);
  assert.equal(count(html, /<svg\b/g), count(html, /<\/svg>/g), 'every svg is closed');
}

describe('migration report', { timeout: 60_000 }, () => {
  test('two runs: self-contained, every plot drawn side by side with axes and legends', () => {
    const runs = syntheticRuns();
    const html = renderMigrationReport(runs, { title: 'demo', subtitle: 'two runs', parameters: [['guest RAM', '4 MiB'], ['link', '4 MiB/s']], generatedAt: new Date(0) });
    assertSelfContained(html);
    assert.match(html, /<title>demo<\/title>/);
    assert.match(html, /<h1>demo<\/h1>/);
    assert.match(html, /Generated 1970-01-01 00:00:00 UTC/);
    assert.match(html, /<th scope="row">guest RAM<\/th><td>4 MiB<\/td>/);
    // summary: a column per run, in order
    const summary = html.slice(html.indexOf('id="summary"'), html.indexOf('</section>', html.indexOf('id="summary"')));
    const head = summary.slice(summary.indexOf('<thead>'), summary.indexOf('</thead>'));
    assert.ok(head.indexOf('XBZRLE') > 0 && head.indexOf('XBZRLE') < head.indexOf('no delta compression'), 'a column per run, in order');
    assert.match(summary, /<th scope="row">downtime \(guest paused\)<\/th><td>80 ms \(limit 300 ms\)<\/td><td>1(\.\d+)? s \(limit 300 ms\)<\/td>/);
    assert.match(summary, /switchover forced/);
    assert.match(summary, /no delta compression<\/strong> sent [\d.]+× the bytes of XBZRLE, with [\d.]+× its downtime/);
    for (const id of FIGURES) {
      const fig = figure(html, id);
      const svgs = count(fig, /<svg\b/g);
      // the run without delta compression has no cache-miss plot (said below the other)
      assert.equal(svgs, id === 'downtime' || id === 'cache-miss-rate' ? 1 : 2, `#${id}: ${svgs} plots`);
      assert.match(fig, /class="axis-title"/, `#${id} has axis titles`);
      assert.match(fig, /class="legend"/, `#${id} has a legend`);
      if (id !== 'downtime' && id !== 'cache-miss-rate') {
        assert.ok(fig.indexOf('<h3>') >= 0 && fig.indexOf('XBZRLE') < fig.indexOf('no delta compression'), `#${id}: runs side by side, in order`);
      }
    }
    // bars: one stacked group per pass, a label with each pass's total; stop-and-copy marked
    const bytes = figure(html, 'bytes-per-pass');
    assert.equal(count(bytes, /<g class="bar">/g), 4 + 5);
    for (const l of ['whole pages', 'delta pages', 'zero pages', 'framing']) assert.ok(bytes.includes(`>${l}</text>`), `legend ${l}`);
    assert.ok(bytes.includes(`>${formatBytes(runs[0]!.passes[0]!.bytes.total)}</text>`));
    assert.equal(count(bytes, /class="sub">stop</g), 2);
    // the run without delta compression has no cache to plot: no empty chart, a sentence
    assert.match(figure(html, 'cache-miss-rate'), /Not shown: no delta compression: no page cache, delta compression was off/);
    // both runs share one y scale: the same top tick in both plots
    const tops = figure(html, 'dirty-pages').split('<svg').slice(1).map((svg) => [...svg.matchAll(/text-anchor="end">([\d,]+)<\/text>/g)].map((m) => m[1]).pop());
    assert.equal(tops.length, 2);
    assert.ok(tops[0] !== undefined && tops[0] === tops[1], `shared y scale: top ticks ${tops.join(' and ')}`);
    // throughput: a line per run, pass marks, the downtime band and the link speed
    const tp = figure(html, 'throughput');
    assert.equal(count(tp, /<path class="line"/g), 2);
    assert.match(tp, /downtime 80 ms/);
    assert.match(tp, /downtime 1(\.\d+)? s/);
    assert.match(tp, /link speed 4 MiB\/s/);
    // downtime: a row per run and the limit
    const dt = figure(html, 'downtime');
    assert.match(dt, />XBZRLE<\/text>/);
    assert.match(dt, />80 ms<\/text>/);
    assert.match(dt, /downtime limit 300 ms/);
  });

  test('labels, title and parameters are escaped everywhere', () => {
    const evil = '<img src=x onerror=alert(1)> & "q" \'s\'';
    const runs = syntheticRuns([evil, 'b</svg><script>']);
    const html = renderMigrationReport(runs, { title: evil, subtitle: evil, parameters: [[evil, evil]] });
    assertSelfContained(html);
    assert.ok(!html.includes('<img') && !html.includes('</svg><script>'));
    assert.ok(html.includes('&#60;img src=x onerror=alert(1)&#62; &#38; &#34;q&#34; &#39;s&#39;'));
  });

  test('one run fills the width; a failed run with no passes still renders', () => {
    const [one] = syntheticRuns();
    const single = renderMigrationReport([one!]);
    assertSelfContained(single);
    assert.match(figure(single, 'bytes-per-pass'), /viewBox="0 0 1100 /);
    const failed: ReportRun = { label: 'failed', info: { status: 'failed', 'total-time': 12, 'error-desc': 'connection refused' }, passes: [] };
    const html = renderMigrationReport([failed, one!]);
    assertSelfContained(html);
    assert.match(html, /failed: connection refused/);
    assert.match(html, /<strong>failed<\/strong> failed 12 ms after it started, before its first pass ended: connection refused; it had sent nothing/);
    for (const id of ['bytes-per-pass', 'downtime']) assert.match(figure(html, id), /Not shown: failed: failed before its first pass ended/);
  });

  test('no runs is an InvalidArgumentError', () => {
    assert.throws(() => renderMigrationReport([]), { name: 'InvalidArgumentError', code: 'INVALID_ARGUMENT' });
  });

  test('a real migration recorded with RunRecorder: samples over time, plots for its passes', async () => {
    let recorder: RunRecorder | undefined;
    // RAM that is not zero: the paced first pass lasts half a second, whatever the guest wrote
    const m = await migrateSmall(join(tmp.dir, 'r.mig'), { xbzrle: true, prefill: true }, (mig) => (recorder = new RunRecorder(mig, 'real XBZRLE')));
    const run = recorder!.result({ digestsMatch: true });
    assert.equal(run.passes.length, m.passes.length);
    assert.ok(run.samples!.length >= 5, `${run.samples!.length} samples`);
    for (let i = 1; i < run.samples!.length; i++) {
      assert.ok(run.samples![i]!.tMs >= run.samples![i - 1]!.tMs, 'samples in time order');
      assert.ok(run.samples![i]!.transferredBytes >= run.samples![i - 1]!.transferredBytes, 'transferred only grows');
    }
    assert.equal(run.parameters?.['link-bandwidth'], 8 * 1024 * 1024);
    const s = runSeries(run);
    assert.equal(s.passLabels.length, run.passes.length);
    assert.equal(s.stopIndex, run.passes.length - 1);
    assert.ok(s.throughput.length > 0 && s.throughput.every(([t, r]) => Number.isFinite(t) && Number.isFinite(r) && r >= 0));
    // every pass's page kinds add up to the pages it had to send, less what it left
    run.passes.forEach((p, i) => assert.equal(s.pagesToSend[i], p.pages.zero + p.pages.normal + p.pages.delta + p.pages.unchanged + p.remainingPages));
    const path = join(tmp.dir, 'real.html');
    await writeMigrationReport(path, [run], { title: 'real' });
    const html = readFileSync(path, 'utf8');
    assertSelfContained(html);
    assert.equal(count(figure(html, 'bytes-per-pass'), /<g class="bar">/g), run.passes.length);
    assert.match(html, /real XBZRLE/);
  });
});

describe('report helpers', () => {
  test('niceTicks: steps of 1, 2, 2.5 or 5 × 10^k, from 0 to at least max', () => {
    assert.deepEqual(niceTicks(8), [0, 2, 4, 6, 8]);
    assert.deepEqual(niceTicks(100), [0, 20, 40, 60, 80, 100]);
    assert.deepEqual(niceTicks(2048), [0, 500, 1000, 1500, 2000, 2500]);
    assert.deepEqual(niceTicks(0), [0, 1]);
    assert.deepEqual(niceTicks(NaN), [0, 1]);
    for (const max of [0.003, 0.7, 1, 3, 7.9, 12.5, 999, 123456]) {
      const t = niceTicks(max);
      assert.ok(t[0] === 0 && t[t.length - 1]! >= max && t.length >= 3 && t.length <= 7, `${max}: ${t.join(',')}`);
    }
  });

  test('format: binary units, milliseconds, never NaN', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(812), '812 B');
    assert.equal(formatBytes(3.4 * 1024), '3.4 KiB');
    assert.equal(formatBytes(8 * 1024 * 1024), '8 MiB');
    assert.equal(formatBytes(12.34 * 1024 * 1024), '12.3 MiB');
    assert.equal(formatBytes(NaN), '0 B');
    assert.equal(formatMs(840), '840 ms');
    assert.equal(formatMs(4200), '4.2 s');
    assert.equal(formatMs(72_000), '1 min 12 s');
    assert.equal(trim(0.5), '0.5');
    assert.equal(trim(Infinity), '0');
  });
});
