/**
 * The benchmark harness: the tiny matrix end to end (what CI runs: every run a source and a
 * destination process, every digest equal, JSON, markdown and HTML written from the results),
 * the matrix's rules, the codec pairing, and, as root with iproute2, a run over real network
 * namespaces. What the runs show (which cells converge, what delta compression saves, that
 * auto-converge and auto-xbzrle act) depends on the machine's speed and load: those claims are
 * checked by bench/claims.bench.ts on a quiet machine, not here.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench } from '../../src/cli/bench/bench.js';
import { GBIT, MBIT, MIB, cacheBytesFor, matrix, maxTimeFor } from '../../src/cli/bench/matrix.js';
import { NetnsLink } from '../../src/cli/bench/netns.js';
import { codecPairs } from '../../src/cli/bench/report.js';
import type { BenchOutput } from '../../src/cli/bench/report.js';
import { requires } from '../helpers/requirements.js';

const dir = mkdtempSync(join(tmpdir(), 'livemig-bench-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('matrix rules: power-of-two cache sizes, max-time from the link, unique ids, the axes the issue names', () => {
  assert.equal(cacheBytesFor(64 * MIB, 25), 16 * MIB);
  assert.equal(cacheBytesFor(64 * MIB, 5), 4 * MIB, '3.2 MiB rounds to 4 MiB');
  assert.equal(cacheBytesFor(64 * MIB, 10), 8 * MIB);
  assert.equal(maxTimeFor(64 * MIB, 100 * MBIT), 12_000);
  assert.equal(maxTimeFor(64 * MIB, GBIT), 3000);
  assert.equal(maxTimeFor(64 * MIB, 0), 3000);
  for (const name of ['tiny', 'default', 'full'] as const) {
    const ids = matrix(name).map((s) => s.id);
    assert.equal(new Set(ids).size, ids.length, `${name}: ids are unique`);
  }
  const d = matrix('default');
  assert.deepEqual([...new Set(d.map((s) => s.linkBitsPerSecond))].sort((a, b) => a - b), [0, 100 * MBIT, GBIT, 10 * GBIT]);
  assert.deepEqual([...new Set(d.map((s) => s.codec))].sort(), ['none', 'xbrle', 'xbzrle']);
  assert.deepEqual([...new Set(d.map((s) => s.cachePercent))].sort((a, b) => a - b), [5, 10, 25, 50]);
  assert.deepEqual([...new Set(d.map((s) => s.cacheWays))].sort(), [1, 2, 4]);
  assert.ok(new Set(d.map((s) => s.ramBytes)).size >= 3, 'guest sizes');
  assert.deepEqual(new Set(d.map((s) => s.workload)), new Set(['idle', 'stride', 'seed', 'random', 'xbzrle-doc', 'bwmem', 'zipf', 'video', 'mixed']));
  assert.ok(d.every((s) => s.seed === 1), 'seeds fixed');
});

test('the tiny matrix runs in one go: every run completes with equal digests, and the files show its results', { timeout: 180_000 }, async () => {
  const lines: string[] = [];
  const out: BenchOutput = await runBench({
    matrix: 'tiny',
    netns: false,
    json: join(dir, 'tiny.json'),
    markdown: join(dir, 'tiny.md'),
    report: join(dir, 'tiny.html'),
    command: 'livemig bench --matrix tiny',
    log: (l) => lines.push(l),
  });
  assert.equal(out.runs.length, matrix('tiny').length);
  for (const r of out.runs) {
    assert.equal(r.status, 'completed', `${r.spec.id}: ${r.error ?? ''}`);
    assert.equal(r.digestsMatch, true, `${r.spec.id}: digests`);
    assert.doesNotMatch(JSON.stringify(r), /NaN|Infinity/);
    assert.ok(r.totalMs > 0 && r.downtimeMs > 0 && r.bytes.total > 0 && r.passes >= 2, r.spec.id);
    assert.equal(r.converged, !r.forced, `${r.spec.id}: converged or forced`);
    assert.ok(r.guestDowntimeMs !== null && r.guestDowntimeMs > 0, `${r.spec.id}: the guest saw a downtime`);
    assert.ok(r.senderCpuMs > 0 && r.receiverCpuMs > 0, `${r.spec.id}: CPU times`);
    assert.ok(r.workRate.before > 0 && r.workRate.after > 0, `${r.spec.id}: work rates`);
  }
  const by = (id: string) => out.runs.find((r) => r.spec.id.startsWith(id))!;
  // The policies ran where the matrix asks for them (what they achieved: bench/claims.bench.ts).
  assert.ok(by('auto-converge/').passRecords.every((p) => p.throttlePercent !== undefined), 'auto-converge cell: throttle recorded per pass');
  assert.ok(by('codec/bwmem/xbzrle').passRecords.some((p) => p.cacheHits + p.cacheMisses > 0), 'the XBZRLE cell used the cache');
  assert.ok(by('codec/bwmem/none').passRecords.every((p) => p.cacheHits + p.cacheMisses === 0), 'the none cell did not');
  const [sparse] = codecPairs(out.runs.filter((r) => r.spec.workload === 'xbzrle-doc'));
  assert.ok(sparse, 'the xbzrle-doc pair');
  // Files: written from these results.
  const json = JSON.parse(readFileSync(join(dir, 'tiny.json'), 'utf8')) as BenchOutput;
  assert.equal(json.runs.length, out.runs.length);
  assert.deepEqual(json.runs.map((r) => [r.spec.id, r.converged, r.totalMs]), out.runs.map((r) => [r.spec.id, r.converged, r.totalMs]));
  assert.ok(json.runs[0]!.passRecords.length >= 2, 'pass records kept');
  const md = readFileSync(join(dir, 'tiny.md'), 'utf8');
  assert.match(md, /## Delta compression \(XBZRLE\) against none/);
  assert.ok(md.includes(`| xbzrle-doc | 100 Mbit/s | 8 | ${sparse.none.converged}/1 → ${sparse.delta.converged}/1 |`), 'the pair row with both cells\' outcomes');
  assert.doesNotMatch(md, /Every cell|Round by round/, 'single shots: no cell summaries');
  const html = readFileSync(join(dir, 'tiny.html'), 'utf8');
  assert.match(html, /^<!doctype html>/);
  assert.ok((html.match(/<svg/g) ?? []).length >= 3, 'plots');
  assert.doesNotMatch(html, /<script|https?:/);
  assert.equal(lines.filter((l) => /^\[\d+\/\d+\]/.test(l)).length, out.runs.length, 'a progress line per run');
});

test('--repeat 2: every run kept, round after round, and each cell shown as median [min–max] with converged k/N', { timeout: 120_000 }, async () => {
  const filter = 'codec/xbzrle-doc';
  const out: BenchOutput = await runBench({
    matrix: 'tiny',
    netns: false,
    repeat: 2,
    filter,
    json: join(dir, 'repeat.json'),
    markdown: join(dir, 'repeat.md'),
    report: join(dir, 'repeat.html'),
    command: 'livemig bench --matrix tiny --repeat 2',
    log: () => undefined,
  });
  const specs = matrix('tiny').filter((s) => s.id.includes(filter));
  assert.equal(specs.length, 2, 'the xbzrle-doc pair');
  // rounds: the whole (filtered) matrix once, then again, with the same seeds
  assert.deepEqual(out.runs.map((r) => [r.spec.id, r.repeat]), [...specs.map((s) => [s.id, 1]), ...specs.map((s) => [s.id, 2])]);
  assert.deepEqual(out.runs.map((r) => r.spec.seed), [1, 1, 1, 1]);
  for (const r of out.runs) {
    assert.equal(r.status, 'completed', `${r.spec.id} #${r.repeat}: ${r.error ?? ''}`);
    assert.equal(r.digestsMatch, true);
    assert.ok(typeof r.loadAverage === 'number');
  }
  const json = JSON.parse(readFileSync(join(dir, 'repeat.json'), 'utf8')) as BenchOutput;
  assert.equal(json.meta.repeat, 2);
  assert.equal(json.runs.length, 4, 'the JSON keeps every run');
  assert.ok(json.runs.every((r) => r.passRecords.length >= 2));
  // the markdown's figures are the medians and extremes of exactly these runs
  const [pair] = codecPairs(out.runs);
  assert.ok(pair);
  assert.equal(pair.none.runs.length, 2);
  assert.equal(pair.delta.runs.length, 2);
  const converged = (codec: string): number => out.runs.filter((r) => r.spec.codec === codec && r.converged).length;
  assert.equal(pair.delta.converged, converged('xbzrle'), 'the pair counts the XBZRLE runs that converged');
  assert.equal(pair.none.converged, converged('none'), 'and the none runs');
  const totals = out.runs.filter((r) => r.spec.codec === 'none').map((r) => r.totalMs).sort((a, b) => a - b);
  assert.equal(pair.none.totalMs.median, (totals[0]! + totals[1]!) / 2);
  const cell = (v: number[]): string => {
    const [lo, hi] = [Math.min(...v), Math.max(...v)].map((x) => String(Math.round(x)));
    const m = String(Math.round((v[0]! + v[1]!) / 2));
    return lo === hi ? m : `${m} [${lo}–${hi}]`;
  };
  const noneDowntime = cell(out.runs.filter((r) => r.spec.codec === 'none').map((r) => r.downtimeMs));
  const md = readFileSync(join(dir, 'repeat.md'), 'utf8');
  assert.match(md, /2 cells × 2 = 4 runs/);
  assert.ok(md.includes(`| xbzrle-doc | 100 Mbit/s | 8 | ${pair.none.converged}/2 → ${pair.delta.converged}/2 | ${noneDowntime} → `), `pair row with the none cell's downtime ${noneDowntime}`);
  assert.ok(md.includes(`| ${cell(totals)} |`), `every-cell table has the none cell's total time ${cell(totals)}`);
  assert.match(md, /## Every cell \(median \[min–max\] of its runs\)/);
  const noneForced = 2 - pair.none.converged;
  assert.ok(md.includes(`converged ${pair.none.converged}/2${noneForced > 0 ? ` (forced ${noneForced})` : ''}`), 'the none cell\'s outcome');
  assert.match(md, /### Round by round/);
  assert.equal((md.match(/^\| codec \| xbzrle-doc \| (none|xbzrle) \| [12] \|/gm) ?? []).length, 4, 'a row per run with its repetition');
  const html = readFileSync(join(dir, 'repeat.html'), 'utf8');
  assert.ok(html.includes(`converged ${pair.delta.converged}/2`) && html.includes(`converged ${pair.none.converged}/2`) && html.includes('Every cell'));
  assert.doesNotMatch(html, /NaN|<script/);
});

test('--netns: a run over two network namespaces and a shaped veth pair; the namespaces are gone afterwards', { ...requires.netns(), timeout: 120_000 }, async () => {
  const out = await runBench({ matrix: 'tiny', netns: true, filter: 'codec/xbzrle-doc(bufferBytes=2097152)/xbzrle', command: 'test', log: () => undefined });
  assert.equal(out.runs.length, 1);
  const r = out.runs[0]!;
  assert.equal(r.status, 'completed', r.error);
  assert.equal(r.digestsMatch, true);
  assert.match(out.meta.link, /network namespaces and a veth pair shaped by tc (netem|tbf)/);
  // The kernel shaped the link: every byte crossed it before the destination confirmed the
  // digest, so the migration took at least its bytes at the link's rate (a bound that load only
  // loosens; a pass's own time is not one: the sockets' buffers absorb part of it).
  const floorMs = (r.bytes.total * 8 * 1000) / r.spec.linkBitsPerSecond;
  assert.ok(r.spec.linkBitsPerSecond > 0 && r.totalMs >= floorMs, `${r.bytes.total} bytes in ${r.totalMs} ms: at least ${floorMs.toFixed(0)} ms over ${r.spec.linkBitsPerSecond} bit/s`);
  // this process's namespaces only (tagged with its pid): another test run may have its own now
  const mine = new RegExp(`^livemig-(src|dst)-${process.pid % 100000}\\b`, 'm');
  assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), mine);
  const again = NetnsLink.create();
  assert.match(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(again.sourceNs));
  again.close();
  again.close(); // idempotent
  assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), mine);
});
