/**
 * The benchmark harness: the tiny matrix end to end (what CI runs: every run a source and a
 * destination process, JSON, markdown and HTML written, and the qualitative results the issue
 * asks for), the matrix's rules, the codec pairing, and, as root with iproute2, a run over
 * real network namespaces.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench } from '../../bench/harness/bench.js';
import { GBIT, MBIT, MIB, cacheBytesFor, matrix, maxTimeFor } from '../../bench/harness/matrix.js';
import { NetnsLink } from '../../bench/harness/netns.js';
import { codecPairs } from '../../bench/harness/report.js';
import type { BenchOutput } from '../../bench/harness/report.js';

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

test('the tiny matrix runs in one go: results, files, and what delta compression does and does not do', { timeout: 180_000 }, async () => {
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
    assert.ok(r.guestDowntimeMs !== null && r.guestDowntimeMs > 0, `${r.spec.id}: the guest saw a downtime`);
    assert.ok(r.senderCpuMs > 0 && r.receiverCpuMs > 0, `${r.spec.id}: CPU times`);
    assert.ok(r.workRate.before > 0 && r.workRate.after > 0, `${r.spec.id}: work rates`);
  }
  const by = (id: string) => out.runs.find((r) => r.spec.id.startsWith(id))!;
  // Sparse writes: converges only with XBZRLE, and with less downtime, time and bytes.
  const [sparse] = codecPairs(out.runs.filter((r) => r.spec.workload === 'xbzrle-doc'));
  assert.ok(sparse, 'the xbzrle-doc pair');
  assert.equal(sparse.none.converged, false);
  assert.equal(sparse.delta.converged, true);
  assert.ok(sparse.delta.netDowntimeMs < sparse.none.netDowntimeMs, 'less downtime');
  assert.ok(sparse.bytesChange < -30 && sparse.totalTimeChange < -30, `bytes ${sparse.bytesChange} %, time ${sparse.totalTimeChange} %`);
  // Dense writes: XBZRLE overflows and is judged to hurt; auto-xbzrle switches it off.
  const dense = by('codec/bwmem/xbzrle');
  assert.equal(dense.deltaVerdict, 'hurts');
  assert.ok(dense.overflows > 0 && dense.encodingRate < 1.1);
  assert.ok(by('auto-xbzrle/bwmem').deltaDisabledAtPass > 0);
  // Auto-converge throttles a guest that cannot converge until it does.
  const ac = by('auto-converge/');
  assert.equal(ac.converged, true);
  assert.ok(ac.throttleMax >= 30 && ac.workRate.during < ac.workRate.before, `throttle ${ac.throttleMax} %, work ${ac.workRate.before} → ${ac.workRate.during}`);
  // Files.
  const json = JSON.parse(readFileSync(join(dir, 'tiny.json'), 'utf8')) as BenchOutput;
  assert.equal(json.runs.length, out.runs.length);
  assert.ok(json.runs[0]!.passRecords.length >= 2, 'pass records kept');
  const md = readFileSync(join(dir, 'tiny.md'), 'utf8');
  assert.match(md, /## Delta compression \(XBZRLE\) against none/);
  assert.match(md, /\| xbzrle-doc \| 100 Mbit\/s \| 8 \| forced → converged \|/);
  const html = readFileSync(join(dir, 'tiny.html'), 'utf8');
  assert.match(html, /^<!doctype html>/);
  assert.ok((html.match(/<svg/g) ?? []).length >= 3, 'plots');
  assert.doesNotMatch(html, /<script|https?:/);
  assert.equal(lines.filter((l) => /^\[\d+\/\d+\]/.test(l)).length, out.runs.length, 'a progress line per run');
});

function canNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    execFileSync('tc', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('--netns: a run over two network namespaces and a shaped veth pair; the namespaces are gone afterwards', { skip: !canNetns() && 'needs root and iproute2', timeout: 120_000 }, async () => {
  const out = await runBench({ matrix: 'tiny', netns: true, filter: 'codec/xbzrle-doc(bufferBytes=2097152)/xbzrle', command: 'test', log: () => undefined });
  assert.equal(out.runs.length, 1);
  const r = out.runs[0]!;
  assert.equal(r.status, 'completed', r.error);
  assert.equal(r.digestsMatch, true);
  assert.match(out.meta.link, /network namespaces and a veth pair shaped by tc (netem|tbf)/);
  // 8 MiB first pass over a 100 Mbit/s kernel-shaped link: at least 0.6 s.
  const first = r.passRecords[0]!;
  assert.ok(first.endMs - first.startMs > 500, `first pass ${first.endMs - first.startMs} ms: the kernel shaped the link`);
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  assert.doesNotMatch(left, /livemig-(src|dst)-/);
  const again = NetnsLink.create();
  assert.match(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(again.sourceNs));
  again.close();
  again.close(); // idempotent
  assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), /livemig-(src|dst)-/);
});
