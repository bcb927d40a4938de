/**
 * The settling rule (src/migration/settle.ts): when what is dirty fits the limit, one more pass
 * only where it is expected to halve the downtime's RAM part, and never again after a
 * deferral that did not pay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { anotherPassPays, MAX_DEFERRALS, MIN_SAVING_MS, predictedNextBytes, Settling } from '../../src/migration/settle.js';
import type { SettleInput } from '../../src/migration/settle.js';

/** 100 MB dirty (most of a first pass) at 300 MB/s, 600 pages dirtied in the last 100 ms. */
const sparse: SettleInput = {
  pendingBytes: 100e6,
  dirtiedPages: 600,
  intervalMs: 100,
  bytesPerDirtyPage: 4104,
  iterateBytesPerMs: 300e3,
  finalBytesPerMs: 800e3,
  passOverheadMs: 1,
};

test('a guest that dirties little: sending what is dirty first pays', () => {
  // the pass takes ~334 ms, in which ~2000 pages are dirtied: ~8 MB against 100 MB
  const next = predictedNextBytes(sparse);
  assert.ok(Math.abs(next - (600 / 100) * (100e6 / 300e3 + 1) * 4104) < 1, `predicted ${next}`);
  assert.equal(anotherPassPays(sparse), true);
});

test('a guest that dirties as fast as the link drains: another pass does not pay', () => {
  // 300 MB/s of sends against 73 pages a ms (300 MB/s) of writes: the next sync finds as much
  assert.equal(anotherPassPays({ ...sparse, dirtiedPages: 7300 }), false);
});

test('a saving under a millisecond is not worth a pass, and no bandwidth or no interval decides nothing', () => {
  const tiny = { ...sparse, pendingBytes: (MIN_SAVING_MS * sparse.finalBytesPerMs) / 2, dirtiedPages: 0 };
  assert.equal(anotherPassPays(tiny), false);
  assert.equal(anotherPassPays({ ...sparse, finalBytesPerMs: 0 }), false);
  assert.equal(anotherPassPays({ ...sparse, intervalMs: 0 }), false);
  assert.equal(predictedNextBytes({ ...sparse, iterateBytesPerMs: 0, finalBytesPerMs: 0 }), Infinity);
});

test('the iterate stage falls back to the final stage bandwidth before it is measured', () => {
  assert.equal(predictedNextBytes({ ...sparse, iterateBytesPerMs: 0 }), predictedNextBytes({ ...sparse, iterateBytesPerMs: sparse.finalBytesPerMs }));
});

test('it pays only where the next sync is expected to find at most half (property)', () => {
  const input = fc.record({
    pendingBytes: fc.double({ min: 0, max: 1e10, noNaN: true }),
    dirtiedPages: fc.integer({ min: 0, max: 1 << 20 }),
    intervalMs: fc.double({ min: 0, max: 1e5, noNaN: true }),
    bytesPerDirtyPage: fc.double({ min: 9, max: 4104, noNaN: true }),
    iterateBytesPerMs: fc.double({ min: 0, max: 1e7, noNaN: true }),
    finalBytesPerMs: fc.double({ min: 0, max: 1e7, noNaN: true }),
    passOverheadMs: fc.double({ min: 0, max: 100, noNaN: true }),
  });
  fc.assert(
    fc.property(input, (i) => {
      if (!anotherPassPays(i)) return;
      assert.ok(predictedNextBytes(i) <= i.pendingBytes / 2);
      assert.ok((i.pendingBytes - predictedNextBytes(i)) / i.finalBytesPerMs >= MIN_SAVING_MS);
    }),
    { numRuns: 500 },
  );
});

test('a deferral that did not shrink what is dirty ends settling', () => {
  const s = new Settling();
  assert.equal(s.defer(sparse), true);
  assert.equal(s.active, true);
  // the next sync finds 90 % of what it was deferred for: the guess was wrong, switch over
  assert.equal(s.defer({ ...sparse, pendingBytes: sparse.pendingBytes * 0.9 }), false);
});

test('deferrals that pay go on, at most MAX_DEFERRALS in a row, and a sync that does not fit resets the count', () => {
  const s = new Settling();
  let pending = 1e10;
  let deferred = 0;
  while (s.defer({ ...sparse, pendingBytes: pending, dirtiedPages: 1 })) {
    deferred++;
    pending /= 2;
  }
  assert.equal(deferred, MAX_DEFERRALS);
  s.reset();
  assert.equal(s.active, false);
  assert.equal(s.defer(sparse), true);
});
