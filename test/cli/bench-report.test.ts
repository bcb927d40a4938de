/**
 * The bench report's comparisons on runs whose every number is known: a policy (auto-xbzrle,
 * auto-converge) is shown with and without, side by side, from the same matrix run, or the
 * page says which side is missing; legends list only what ran; the charts share the page's width.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matrix } from '../../src/cli/bench/matrix.js';
import { renderHtml } from '../../src/cli/bench/report.js';
import { fakeBench } from './helpers.js';

/** The section of a comparison. */
function section(html: string, name: string): string {
  const start = html.indexOf(`<h2>Comparison: ${name}</h2>`);
  assert.ok(start >= 0, `no section for ${name}`);
  const end = html.indexOf('</section>', start);
  return html.slice(start, end);
}

/** The cells a section's downtime chart (its first) draws a bar for, by their hover text. */
function barsOf(sectionHtml: string): string[] {
  const first = sectionHtml.slice(0, sectionHtml.indexOf('</svg>'));
  return [...first.matchAll(/<g class="bar"><title>([^:<]+):/g)].map((m) => m[1]!);
}

/** Legend entries of a section's downtime chart. */
function legendOf(sectionHtml: string): string[] {
  const g = sectionHtml.slice(sectionHtml.indexOf('<g class="legend">'), sectionHtml.indexOf('</g>', sectionHtml.indexOf('<g class="legend">')));
  return [...g.matchAll(/<text[^>]*>([^<]+)<\/text>/g)].map((m) => m[1]!);
}

test('auto-xbzrle and auto-converge are compared with and without, side by side, from the same run', () => {
  const html = renderHtml(fakeBench(matrix('tiny')));
  const ax = section(html, 'auto-xbzrle');
  // the codec comparison's bwmem/xbzrle cell is auto-xbzrle's "without": same spec but the policy
  assert.deepEqual(barsOf(ax), ['codec/bwmem/xbzrle', 'auto-xbzrle/bwmem/xbzrle+auto-xbzrle']);
  assert.deepEqual(legendOf(ax), ['without auto-xbzrle', 'with auto-xbzrle']);
  const ac = section(html, 'auto-converge');
  assert.deepEqual(barsOf(ac), ['auto-converge/random[100%](rate=4000)/off', 'auto-converge/random[100%](rate=4000)/auto-converge']);
  assert.deepEqual(legendOf(ac), ['without auto-converge', 'with auto-converge']);
  assert.doesNotMatch(html, /class="missing"/);
});

test('a side the matrix did not run is said plainly, and its slot is marked "not run"', () => {
  const specs = matrix('tiny').filter((s) => !(s.comparison === 'auto-converge' && !s.autoConverge) && s.id !== 'codec/bwmem/xbzrle');
  const html = renderHtml(fakeBench(specs));
  const ac = section(html, 'auto-converge');
  assert.match(ac, /<p class="missing">random at 100 Mbit\/s: this matrix has no run without auto-converge and otherwise the same settings, so that side is missing<\/p>/);
  assert.deepEqual(barsOf(ac), ['auto-converge/random[100%](rate=4000)/auto-converge']);
  assert.match(ac, /class="sub">not run</);
  assert.deepEqual(legendOf(ac), ['with auto-converge'], 'no legend for the side that did not run');
  assert.match(section(html, 'auto-xbzrle'), /bwmem at 100 Mbit\/s, xbzrle: this matrix has no run without auto-xbzrle/);
});

test('a legend lists only the codecs that ran', () => {
  const html = renderHtml(fakeBench(matrix('tiny')));
  const codec = section(html, 'codec');
  assert.deepEqual(legendOf(codec), ['none', 'xbzrle'], 'the tiny matrix runs no xbrle');
  assert.doesNotMatch(html, />xbrle<\/text>/);
  const onlyNone = renderHtml(fakeBench(matrix('tiny').filter((s) => s.comparison === 'codec' && s.codec === 'none')));
  assert.deepEqual(legendOf(section(onlyNone, 'codec')), ['none']);
  // the bytes chart: no legend entry for a kind no run sent (the none cells send no delta)
  const bytes = section(onlyNone, 'codec').split('<svg').pop()!;
  assert.doesNotMatch(bytes, />deltas<\/text>/);
  assert.match(bytes, />whole pages<\/text>/);
});

test('charts share the width: three a row for a few bars, one a row for many', () => {
  const html = renderHtml(fakeBench(matrix('tiny')));
  assert.match(section(html, 'codec'), /<div class="charts">(<div class="chart-box"><svg viewBox="0 0 400 280" width="100%"[^]*?<\/div>\n?){3}<\/div>/);
  const many = renderHtml(fakeBench(matrix('default').filter((s) => s.comparison === 'codec')));
  const codec = section(many, 'codec');
  assert.match(codec, /<div class="charts wide">/);
  const w = Number(/<svg viewBox="0 0 (\d+) /.exec(codec)![1]);
  assert.ok(w >= 1180, `a chart of 27 bars is ${w} wide`);
});

test('the default matrix: every auto-xbzrle and auto-converge cell has its other side, the link in the labels where the pairs differ in it', () => {
  const html = renderHtml(fakeBench(matrix('default')));
  const ax = section(html, 'auto-xbzrle');
  assert.doesNotMatch(html, /class="missing"/);
  assert.equal(barsOf(ax).length, 12, 'three workloads × two links × with and without');
  assert.ok(barsOf(ax).includes('bandwidth/zipf/10 Gbit/s xbzrle'), 'the 10 Gbit/s "without" comes from the bandwidth comparison');
  assert.match(ax, />zipf 10G<tspan[^>]*class="sub">without</);
  assert.equal(barsOf(section(html, 'auto-converge')).length, 4);
});
