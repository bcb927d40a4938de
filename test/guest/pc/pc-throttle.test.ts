/**
 * The PC's cpu-throttle (auto-converge's lever): throttled at p %, v86 sleeps what its slices
 * owe, so its slices take a small share of the wall-clock time (sleeps only make that share
 * smaller), and the guest still runs. The exact share is SliceThrottle's (its property tests).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { DEFAULT_BIOS_PATH, PcMachine, floppyImage, resolvePcOptions } from '../../../src/guest/index.js';
import { requirement } from '../../helpers/requirements.js';

const needsBios = requirement('SeaBIOS (bios.bin)', existsSync(DEFAULT_BIOS_PATH), 'apt-get install -y seabios');

/** Resolves once the emulator has run `ms` more ms of slices; returns the wall-clock ms that took. */
async function emulatorRuns(pc: PcMachine, ms: number): Promise<number> {
  const start = pc.emulatorMs;
  const t0 = performance.now();
  while (pc.emulatorMs - start < ms) await new Promise((r) => setTimeout(r, 5));
  return performance.now() - t0;
}

test('a throttled PC runs its share of the time and no more; 0 lifts it; bad values and a stopped PC are refused', { ...needsBios, timeout: 60_000 }, async () => {
  const { config, media } = resolvePcOptions({ ramBytes: 32 << 20, bootImage: { name: 'stride', floppy: floppyImage('stride') } });
  const pc = await PcMachine.create(config, media);
  try {
    await emulatorRuns(pc, 20); // booted and running
    assert.equal(pc.throttlePercent, 0);
    pc.throttle(90);
    assert.equal(pc.throttlePercent, 90);
    await emulatorRuns(pc, 2); // the slice in progress when it was set ends
    const ran0 = pc.emulatorMs;
    const slept0 = pc.throttleSleptMs;
    const sleepingAtStart = pc.throttleSleepingMs; // begun before this window, counted in it
    const wall = await emulatorRuns(pc, 200);
    const ran = pc.emulatorMs - ran0;
    const slept = pc.throttleSleptMs - slept0;
    // each ms of slices owes 9 ms of sleep, slept after its slice before the next one: all but
    // the last slice's debt is slept off by now (a loaded machine stretches slices, whose wall
    // time counts, and the debt grows with them), and those sleeps took their wall-clock time
    assert.ok(slept >= 9 * (ran - pc.lastSliceMs) - 1, `throttled at 90 %, ${ran.toFixed(0)} ms of slices (the last ${pc.lastSliceMs.toFixed(0)}) slept only ${slept} ms`);
    assert.ok(wall >= ran + slept - sleepingAtStart, `${ran.toFixed(0)} ms of slices and ${slept - sleepingAtStart} ms of sleep in ${wall.toFixed(0)} ms`);
    pc.throttle(0);
    assert.equal(pc.throttlePercent, 0);
    await emulatorRuns(pc, 5);
    assert.throws(() => pc.throttle(100), /integer 0\.\.99, got 100/);
    assert.throws(() => pc.throttle(-1), /integer 0\.\.99/);
  } finally {
    await pc.stop();
  }
  assert.throws(() => pc.throttle(10), /stopped PC/);
});
