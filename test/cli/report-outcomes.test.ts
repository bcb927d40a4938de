/**
 * What the run report says about each migration: one that was cancelled or failed is
 * explained in words (when, after which pass, what it had sent) and gets no empty chart; every
 * migration is labelled by what it used, read from its own capabilities, parameters and counters.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeSettings, renderMigrationReport } from '../../src/cli/report/index.js';
import type { ReportRun } from '../../src/cli/report/index.js';
import { outcomeText } from '../../src/cli/report/page.js';
import { DEFAULT_CAPABILITIES, DEFAULT_PARAMETERS } from '../../src/migration/parameters.js';
import { pass, syntheticRuns } from './helpers.js';

/** The `<div class="cell">` headers of a figure: the runs it draws. */
function drawn(html: string, id: string): string[] {
  const start = html.indexOf(`id="${id}"`);
  assert.ok(start >= 0, `#${id} is missing`);
  const fig = html.slice(start, html.indexOf('</figure>', start));
  return [...fig.matchAll(/<div class="cell"><h3><span[^>]*><\/span>([^<]*)<\/h3>/g)].map((m) => m[1]!);
}

/** A cancelled run: two passes numbered 1 and 3 as its records give them, then 1 MiB more of an unfinished pass. */
function cancelledRun(): ReportRun {
  const [done] = syntheticRuns();
  const passes = [pass(1, 'iterate', 1000, 0, 10, 1010), pass(3, 'iterate', 400, 600, 1010, 1500)];
  const inPasses = passes.reduce((a, p) => a + p.bytes.total, 0);
  const { downtime: _none, ...info } = done!.info;
  return {
    label: 'cancelled one',
    info: { ...info, status: 'cancelled', 'total-time': 1800, ram: { ...info.ram!, transferred: inPasses + 1024 * 1024, normal: 1400, duplicate: 6 }, 'xbzrle-cache': { ...info['xbzrle-cache']!, pages: 600 } },
    passes,
    parameters: { 'downtime-limit': 300 },
  };
}

const cancelledAtOnce: ReportRun = { label: 'cancelled at once', info: { status: 'cancelled', 'total-time': 1 }, passes: [], samples: [{ tMs: 0, transferredBytes: 0, remainingBytes: 4 << 20, pass: 0, status: 'cancelled' }] };

describe('run report: migrations that did not complete', () => {
  test('a cancelled migration is explained: when, after which pass (as its records number it), what it had sent', () => {
    const text = outcomeText(cancelledRun());
    assert.equal(text, 'was cancelled 1.8 s after it started, in the pass after pass 3 (2 passes complete); it had sent 6.5 MiB (1,400 pages whole, 600 as deltas, 6 zero pages), 1 MiB of it in the unfinished pass. Its plots show the passes that ended.');
    assert.equal(outcomeText(syntheticRuns()[0]!), undefined, 'nothing to explain for a completed one');
    const html = renderMigrationReport([syntheticRuns()[0]!, cancelledRun(), cancelledAtOnce]);
    assert.ok(html.includes(`<strong>cancelled one</strong> ${text!}`), 'the sentence is on the page');
    assert.match(html, /<strong>cancelled at once<\/strong> was cancelled 1 ms after it started, before its first pass ended; it had sent nothing\. No pass ended, so its per-pass plots are left out\./);
    // the headline compares completed runs only
    assert.doesNotMatch(html, /<p class="headline">/);
  });

  test('a migration with nothing to draw gets no empty chart, only a line saying why', () => {
    const html = renderMigrationReport([syntheticRuns()[0]!, cancelledRun(), cancelledAtOnce]);
    assert.doesNotMatch(html, /class="empty"/, 'no chart with a "nothing here" text');
    for (const id of ['bytes-per-pass', 'pages-per-pass', 'dirty-pages', 'cache-miss-rate', 'throughput']) {
      assert.ok(!drawn(html, id).includes('cancelled at once'), `#${id} draws no chart for the run that sent nothing`);
    }
    assert.deepEqual(drawn(html, 'bytes-per-pass'), ['XBZRLE', 'cancelled one'], 'the passes that ended are drawn');
    assert.match(html, /Not shown: cancelled at once: cancelled before its first pass ended\./);
    // the downtime plot has a row for the run that switched over only
    const dt = html.slice(html.indexOf('id="downtime"'));
    assert.equal((dt.match(/class="row"/g) ?? []).length, 1);
    assert.match(dt, /Not shown: cancelled one: cancelled, the guest was not paused for a switchover; cancelled at once: cancelled before its first pass ended, the guest was not paused/);
  });

  test('when no migration ended a pass, there is no per-pass plot at all, and a sentence says why', () => {
    const failed: ReportRun = { label: 'refused', info: { status: 'failed', 'total-time': 3, 'error-desc': 'connection refused' }, passes: [] };
    const html = renderMigrationReport([failed]);
    assert.equal((html.match(/<svg\b/g) ?? []).length, 0, 'not one empty chart');
    assert.match(html, /<strong>refused<\/strong> failed 3 ms after it started, before its first pass ended: connection refused; it had sent nothing/);
    assert.match(html, /No per-pass plot: no migration ended a pass \(refused: failed before its first pass ended\)/);
  });
});

describe('run report: labels from what each migration used', () => {
  const p = (over: Partial<typeof DEFAULT_PARAMETERS>) => ({ ...DEFAULT_PARAMETERS, ...over });
  const c = (over: Partial<typeof DEFAULT_CAPABILITIES>) => ({ ...DEFAULT_CAPABILITIES, ...over });

  test('codec, cache size and ways, auto-xbzrle and its switch, auto-converge', () => {
    assert.equal(describeSettings({ capabilities: c({}), parameters: p({}) }), 'no delta compression');
    assert.equal(describeSettings({ capabilities: c({ xbzrle: true }), parameters: p({}) }), 'XBZRLE, 64 MiB cache (2-way)');
    assert.equal(describeSettings({ capabilities: c({ xbzrle: true }), parameters: p({ 'delta-codec': 'xbrle', 'xbzrle-cache-size': 1 << 20, 'cache-ways': 1 }) }), 'XBRLE, 1 MiB cache (1-way)');
    assert.equal(describeSettings({ capabilities: c({ xbzrle: true, 'auto-xbzrle': true }), parameters: p({}) }), 'XBZRLE, 64 MiB cache (2-way), auto-xbzrle');
    const switched = { status: 'completed' as const, livemig: { ...syntheticRuns()[0]!.info.livemig!, 'delta-disabled-at-pass': 4 } };
    assert.equal(describeSettings({ capabilities: c({ xbzrle: true, 'auto-xbzrle': true }), parameters: p({}), info: switched }), 'XBZRLE, 64 MiB cache (2-way), auto-xbzrle: off at pass 4');
    assert.equal(describeSettings({ capabilities: c({ 'auto-converge': true }), parameters: p({}) }), 'no delta compression, auto-converge');
    // the delta-codec parameter does not matter when the capability is off
    assert.equal(describeSettings({ capabilities: c({ xbzrle: false }), parameters: p({ 'delta-codec': 'xbrle' }) }), 'no delta compression');
    // without capabilities (a report from older data): the final snapshot's codec
    assert.equal(describeSettings({ info: syntheticRuns()[1]!.info }), 'no delta compression');
  });

  test('the summary says what each run used, from its data, whatever its label says', () => {
    const [a, b] = syntheticRuns(['XBZRLE', 'XBZRLE too']);
    const html = renderMigrationReport([
      { ...a!, capabilities: c({ xbzrle: true, 'auto-xbzrle': true }), parameters: { ...a!.parameters, 'xbzrle-cache-size': 8 << 20, 'cache-ways': 4 } },
      { ...b!, capabilities: c({}), parameters: { ...b!.parameters, 'delta-codec': 'xbzrle' } },
    ]);
    assert.match(html, /<th scope="row">what it used<\/th><td>XBZRLE, 8 MiB cache \(4-way\), auto-xbzrle<\/td><td>no delta compression<\/td>/);
  });
});
