/**
 * The downtime estimate's arithmetic: the final stage's bandwidth (the batches' own rate, not
 * the throttled one; at most the simulated link), the fixed costs (seeded, then learned per
 * check from completed migrations), and the RAM budget's floor.
 */
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { DowntimeEstimate, learnFixedCosts, learnedFixedCosts, resetLearnedFixedCosts } from '../../src/migration/downtime-estimate.js';

const MiB = 1 << 20;
const seed = { pauseMs: 2, confirmMs: 5, checkMsPerMiB: 0.5 };

beforeEach(() => resetLearnedFixedCosts());

test('the final stage gets the batches\' own rate, not the throttled bandwidth; the link caps it', () => {
  const e = new DowntimeEstimate({ ramBytes: 64 * MiB, linkBytesPerSecond: 0, check: 'x', seed });
  // before any batch: the fallback (the iterate stage's measured bandwidth)
  assert.equal(e.finalBandwidth(1000), 1000);
  // 40 batches of 100 kB, each written in 5 ms of its own time (however long the limiter held them)
  for (let i = 0; i < 40; i++) e.noteBatch(100_000, 5);
  assert.equal(e.finalBandwidth(1000), 20_000);
  const linked = new DowntimeEstimate({ ramBytes: 64 * MiB, linkBytesPerSecond: 5_000_000, check: 'x', seed });
  assert.equal(linked.finalBandwidth(0), 5000, 'the link alone, before any batch');
  for (let i = 0; i < 40; i++) linked.noteBatch(100_000, 5);
  assert.equal(linked.finalBandwidth(1000), 5000, 'the link paces the final stage');
});

test('expected downtime: the bytes over the final bandwidth plus the fixed costs', () => {
  const e = new DowntimeEstimate({ ramBytes: 64 * MiB, linkBytesPerSecond: 0, check: 'x', seed });
  assert.equal(e.fixedMs, 2 + 5 + 0.5 * 64);
  assert.equal(e.expectedMs(0, 1000), 39);
  assert.equal(e.expectedMs(100_000, 1000), 139);
  assert.equal(e.expectedMs(1, 0), Infinity, 'no bandwidth known: nothing fits');
  // the RAM budget: the limit less the fixed costs, never under a quarter of the limit
  assert.equal(e.thresholdBytes(300, 1000), (300 - 39) * 1000);
  assert.equal(e.thresholdBytes(40, 1000), 10 * 1000);
  // the final stage syncs the dirty log once more: the last sync's work is paid in the downtime
  e.noteSync(25);
  assert.equal(e.fixedMs, 25 + 39);
  assert.equal(e.expectedMs(100_000, 1000), 164);
  assert.equal(e.thresholdBytes(300, 1000), (300 - 64) * 1000);
  e.noteSync(1);
  assert.equal(e.expectedMs(0, 1000), 40, 'the last sync counts, not the largest');
});

test('fixed costs are learned per check from completed migrations and used by the next ones', () => {
  assert.equal(learnedFixedCosts('x'), undefined);
  learnFixedCosts('x', { pauseMs: 10, confirmMs: 0, checkMsPerMiB: 1 });
  learnFixedCosts('x', { pauseMs: 20, confirmMs: 0, checkMsPerMiB: 3 });
  assert.deepEqual(learnedFixedCosts('x'), { pauseMs: 15, confirmMs: 0, checkMsPerMiB: 2 });
  const e = new DowntimeEstimate({ ramBytes: 10 * MiB, linkBytesPerSecond: 0, check: 'x', seed });
  assert.equal(e.fixedMs, 15 + 20);
  const other = new DowntimeEstimate({ ramBytes: 10 * MiB, linkBytesPerSecond: 0, check: 'none', seed });
  assert.equal(other.fixedMs, 2 + 5 + 5, 'another check keeps its seed');
});
