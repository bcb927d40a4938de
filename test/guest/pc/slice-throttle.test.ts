import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SliceThrottle } from '../../../src/guest/pc/slice-throttle.js';

/** Runs slices (ran ms, the emulator's own wait) through a throttle; returns time run and time not. */
function simulate(percent: number, slices: readonly (readonly [number, number])[]): { ran: number; idle: number; waits: number[]; owed: number } {
  const t = new SliceThrottle();
  t.set(percent);
  let ran = 0;
  let idle = 0;
  const waits: number[] = [];
  for (const [r, w] of slices) {
    ran += r;
    const wait = t.next(r, w);
    waits.push(wait);
    idle += wait;
  }
  return { ran, idle, waits, owed: t.owedMs };
}

const slices = fc.array(fc.tuple(fc.double({ min: 0, max: 20, noNaN: true }), fc.oneof(fc.constant(0), fc.double({ min: 0, max: 30, noNaN: true }))), { minLength: 1, maxLength: 300 });

test('slice throttle: the guest is kept from running percent % of the time, give or take the ms not yet owed', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 99 }), slices, (percent, s) => {
      const { ran, idle, owed } = simulate(percent, s);
      const owedTotal = (ran * percent) / (100 - percent);
      // every ms owed is slept, or paid by the emulator's own waits, or still owed (under 1 ms)
      assert.ok(idle + owed >= owedTotal - 1e-6, `idle ${idle} + owed ${owed} < ${owedTotal}`);
      assert.ok(owed < 1, `${owed} ms left owing`);
      // it never sleeps for more than what was owed beyond the emulator's own waits
      const ownWaits = s.reduce((a, [, w]) => a + w, 0);
      assert.ok(idle <= ownWaits + owedTotal + 1e-6, `slept ${idle} beyond ${ownWaits} + ${owedTotal}`);
    }),
  );
});

test('slice throttle: none at 0 %, the emulator\'s own waits kept, whole ms only', () => {
  fc.assert(
    fc.property(slices, (s) => {
      const { waits } = simulate(0, s);
      assert.deepEqual(waits, s.map(([, w]) => w));
    }),
  );
  const t = new SliceThrottle();
  t.set(50);
  assert.equal(t.next(0.4, 0), 0, 'under a ms owed: no sleep yet');
  assert.equal(t.next(0.8, 0), 1, '1.2 ms owed: 1 ms slept');
  assert.ok(Math.abs(t.owedMs - 0.2) < 1e-9);
  t.set(0);
  assert.equal(t.owedMs, 0, 'lifting the throttle forgives the debt');
});

test('slice throttle: a percent outside 0..99 or not whole is refused, naming it', () => {
  const t = new SliceThrottle();
  for (const bad of [-1, 100, 2.5, Number.NaN]) assert.throws(() => t.set(bad), /integer 0\.\.99, got/);
  assert.equal(t.percent, 0);
});
