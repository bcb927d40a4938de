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
    const ran = 200;
    const wall = await emulatorRuns(pc, ran);
    // 200 ms of slices owe 1800 ms of sleep, slept after each slice: all but the last one's.
    // A slice is a few ms, but a loaded machine can stretch one (its wall time counts): only a
    // last slice of over 170 ms could bring this under 2x
    assert.ok(wall >= 2 * ran, `throttled at 90 %, ${ran} ms of slices took only ${wall.toFixed(0)} ms`);
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
