/**
 * The benchmark's repetition arithmetic on runs whose every number is known: spreads
 * (median, min–max), cells (runs of one spec), outcome counts, codec pairs whose ratios are
 * between medians, and the round-by-round figures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cellsOf, outcomeOf, spread } from '../../src/cli/bench/cells.js';
import { matrix } from '../../src/cli/bench/matrix.js';
import { codecPairs } from '../../src/cli/bench/pairs.js';
import type { RunResult } from '../../src/cli/bench/run.js';
import { med } from '../../src/cli/bench/tables.js';

const [NONE, XBZRLE] = matrix('tiny').filter((s) => s.id.startsWith('codec/xbzrle-doc'));

function run(codec: 'none' | 'xbzrle', repeat: number, m: { totalMs: number; downtimeMs: number; netDowntimeMs: number; bytes: number; forced: boolean; status?: string }): RunResult {
  const spec = codec === 'none' ? NONE! : XBZRLE!;
  const status = m.status ?? 'completed';
  return {
    spec, repeat, status, converged: status === 'completed' && !m.forced, forced: m.forced,
    totalMs: m.totalMs, downtimeMs: m.downtimeMs, guestDowntimeMs: m.downtimeMs - 5, verifyMs: 0, resumeMs: 0, netDowntimeMs: m.netDowntimeMs,
    downtimeParts: { pauseMs: 0, sendMs: 0, digestMs: 0, confirmMs: 0 }, setupMs: 0, passes: 3,
    bytes: { total: m.bytes, zero: 0, normal: m.bytes, delta: 0, stopAndCopy: 0 }, pages: { zero: 0, normal: 0, delta: 0, unchanged: 0 },
    cacheBytes: 0, cacheMissRate: 0, encodingRate: 0, overflows: 0, deltaVerdict: '-', deltaGain: 0, deltaDisabledAtPass: 0,
    senderCpuMs: 100, receiverCpuMs: 100, guestCpuMs: 100, workRate: { before: 1, during: 1, after: 1 }, throttleMax: 0, digestsMatch: status === 'completed', passRecords: [],
  };
}

test('spread: the median of an odd count is the middle value, of an even count the mean of the two middle ones', () => {
  assert.deepEqual(spread([30, 10, 20]), { median: 20, min: 10, max: 30, n: 3 });
  assert.deepEqual(spread([40, 10, 20, 30]), { median: 25, min: 10, max: 40, n: 4 });
  assert.deepEqual(spread([7]), { median: 7, min: 7, max: 7, n: 1 });
  assert.deepEqual(spread([]), { median: 0, min: 0, max: 0, n: 0 });
  assert.equal(med(spread([30, 10, 20])), '20 [10–30]');
  assert.equal(med(spread([5, 5])), '5', 'no range when the runs agree');
  assert.equal(med(spread([])), '-');
});

test('cells: runs grouped by spec; failed runs counted but kept out of the medians; converged as k/N', () => {
  const runs = [
    run('none', 1, { totalMs: 3000, downtimeMs: 300, netDowntimeMs: 180, bytes: 30e6, forced: true }),
    run('none', 2, { totalMs: 3100, downtimeMs: 340, netDowntimeMs: 200, bytes: 31e6, forced: true }),
    run('none', 3, { totalMs: 0, downtimeMs: 0, netDowntimeMs: 0, bytes: 0, forced: false, status: 'error' }),
  ];
  const [c] = cellsOf(runs);
  assert.ok(c);
  assert.equal(c.runs.length, 3);
  assert.equal(c.failed, 1);
  assert.deepEqual(c.totalMs, { median: 3050, min: 3000, max: 3100, n: 2 });
  assert.equal(outcomeOf(c), 'converged 0/3 (forced 2, failed 1)');
  const mixed = cellsOf([run('xbzrle', 1, { totalMs: 1, downtimeMs: 1, netDowntimeMs: 1, bytes: 1, forced: false }), run('xbzrle', 2, { totalMs: 1, downtimeMs: 1, netDowntimeMs: 1, bytes: 1, forced: true })]);
  assert.equal(outcomeOf(mixed[0]!), 'converged 1/2 (forced 1)');
});

test('codec pairs: ratios between the medians of the two cells, and round by round', () => {
  const runs = [
    run('none', 1, { totalMs: 3000, downtimeMs: 400, netDowntimeMs: 200, bytes: 300, forced: true }),
    run('xbzrle', 1, { totalMs: 1000, downtimeMs: 100, netDowntimeMs: 20, bytes: 100, forced: false }),
    run('none', 2, { totalMs: 3000, downtimeMs: 200, netDowntimeMs: 100, bytes: 300, forced: true }),
    run('xbzrle', 2, { totalMs: 2000, downtimeMs: 100, netDowntimeMs: 50, bytes: 100, forced: false }),
    run('none', 3, { totalMs: 3600, downtimeMs: 300, netDowntimeMs: 150, bytes: 300, forced: true }),
    run('xbzrle', 3, { totalMs: 1500, downtimeMs: 100, netDowntimeMs: 10, bytes: 150, forced: false }),
  ];
  const [p] = codecPairs(runs);
  assert.ok(p);
  assert.equal(p.none.converged, 0);
  assert.equal(p.delta.converged, 3);
  assert.equal(p.downtimeRatio, 3, '300 ÷ 100 (medians)');
  assert.equal(p.netDowntimeRatio, 7.5, '150 ÷ 20');
  assert.equal(p.totalTimeChange, -50, '3000 → 1500');
  assert.equal(p.bytesChange, -66.7, '300 → 100');
  // round by round: 200/20 = 10, 100/50 = 2, 150/10 = 15
  assert.deepEqual(p.rounds.netDowntimeRatio, { median: 10, min: 2, max: 15, n: 3 });
  assert.deepEqual(p.rounds.totalTimeChange, { median: -58.3, min: -66.7, max: -33.3, n: 3 });
});
