/**
 * The PC's cpu-throttle (auto-converge's lever): throttled at p %, v86 spends at most about
 * (100 - p) % of the wall-clock time in its slices (sleeps only make that share smaller, so a
 * busy machine cannot make this fail), and the guest still runs.
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
    const ran = 60;
    const wall = await emulatorRuns(pc, ran);
    // 60 ms of slices owe 540 ms of sleep, slept after each slice: all but the last one's
    // (a slice is a few ms, so only a last slice of over 30 ms could bring this under 4x)
    assert.ok(wall >= 4 * ran, `throttled at 90 %, ${ran} ms of slices took only ${wall.toFixed(0)} ms`);
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
