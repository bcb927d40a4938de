/**
 * `--telemetry FILE`: one JSON line per pass of a real migration, every field present and
 * finite; bad paths fail at construction; a failing disk never reaches the migration.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TelemetryFile, telemetryLine } from '../../src/cli/telemetry-file.js';
import { migrateSmall, pass, tempDir } from './helpers.js';
import { requires } from '../helpers/requirements.js';

const tmp = tempDir('livemig-telemetry-');
after(tmp.remove);

const NUMBERS = ['pass', 'startMs', 'endMs', 'dirtyPages', 'cacheHits', 'cacheMisses', 'overflows', 'encodingRate', 'bandwidthBytesPerSecond', 'expectedDowntimeMs', 'remainingPages', 'cacheMissRate'];

/** Every number anywhere in `v` is finite (JSON turns NaN and Infinity into null). */
function assertFiniteNumbers(v: unknown, where: string): void {
  if (v === null) assert.fail(`${where} is null (a NaN or Infinity?)`);
  if (typeof v === 'number') assert.ok(Number.isFinite(v), `${where} = ${v}`);
  else if (typeof v === 'object') for (const [k, x] of Object.entries(v as object)) assertFiniteNumbers(x, `${where}.${k}`);
}

describe('telemetry file', { timeout: 60_000 }, () => {
  test('a real migration writes one valid JSON line per pass, in order, the last one stop-and-copy', async () => {
    const path = join(tmp.dir, 'passes.jsonl');
    const file = new TelemetryFile(path);
    // RAM that is not zero: the paced first pass lasts half a second, so the guest re-dirties
    // cached pages whatever it had written when the migration began
    const m = await migrateSmall(join(tmp.dir, 'a.mig'), { xbzrle: true, prefill: true }, (mig) => file.attach(mig, 'XBZRLE'));
    file.close();
    const text = readFileSync(path, 'utf8');
    assert.ok(text.endsWith('\n'));
    const lines = text.trimEnd().split('\n');
    assert.ok(m.passes.length >= 2, `expected several passes, got ${m.passes.length}`);
    assert.equal(lines.length, m.passes.length, 'one line per pass');
    assert.equal(file.lines, lines.length);
    const records = lines.map((l, i) => {
      assert.doesNotMatch(l, /NaN|Infinity|null/, `line ${i + 1}`);
      return JSON.parse(l) as Record<string, unknown>;
    });
    records.forEach((r, i) => {
      assert.equal(r['run'], 'XBZRLE');
      for (const k of NUMBERS) assert.equal(typeof r[k], 'number', `line ${i + 1}: ${k}`);
      for (const k of ['zero', 'normal', 'delta', 'unchanged']) assert.equal(typeof (r['pages'] as Record<string, unknown>)[k], 'number', `line ${i + 1}: pages.${k}`);
      for (const k of ['zero', 'normal', 'delta', 'total']) assert.equal(typeof (r['bytes'] as Record<string, unknown>)[k], 'number', `line ${i + 1}: bytes.${k}`);
      assertFiniteNumbers(r, `line ${i + 1}`);
      assert.equal(r['pass'], m.passes[i]!.pass);
      assert.ok((r['cacheMissRate'] as number) >= 0 && (r['cacheMissRate'] as number) <= 1);
    });
    assert.deepEqual(records.map((r) => r['stage']), [...Array(records.length - 1).fill('iterate'), 'stop-and-copy']);
    for (let i = 1; i < records.length; i++) assert.ok((records[i]!['pass'] as number) > (records[i - 1]!['pass'] as number), 'pass numbers increase');
    // the bytes of all passes are what went on the wire after setup
    const total = records.reduce((a, r) => a + ((r['bytes'] as { total: number }).total), 0);
    const transferred = m.info().ram!.transferred;
    assert.ok(total <= transferred && total > transferred * 0.9, `pass bytes ${total} vs transferred ${transferred}`);
    assert.ok(records.some((r) => (r['cacheHits'] as number) > 0), 'XBZRLE hit the cache in some pass');
  });

  test('a line is the PassRecord plus run and cacheMissRate; NaN and Infinity are written as 0', () => {
    const r = pass(2, 'iterate', 10, 30, 100, 200, { encodingRate: NaN, bandwidthBytesPerSecond: Infinity });
    const line = telemetryLine(r);
    assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
    const o = JSON.parse(line) as Record<string, unknown>;
    assert.equal(o['run'], undefined);
    assert.equal(o['encodingRate'], 0);
    assert.equal(o['bandwidthBytesPerSecond'], 0);
    assert.equal(o['cacheMissRate'], Math.round((5 / 35) * 1e4) / 1e4); // 5 misses (half the whole pages), 30 hits
    assert.deepEqual(o['pages'], r.pages);
    assert.equal(Object.keys(JSON.parse(telemetryLine(r, 'x')) as object)[0], 'run');
  });

  test('a path that cannot be written fails at construction with InvalidArgumentError', () => {
    const bad = join(tmp.dir, 'no-such-dir', 'x.jsonl');
    assert.throws(() => new TelemetryFile(bad), { name: 'InvalidArgumentError', code: 'INVALID_ARGUMENT', message: /cannot write telemetry to .*no-such-dir/ });
    assert.equal(existsSync(bad), false);
  });

  test('a write error is kept for close(), never thrown into the migration', requires.devFull(), () => {
    const file = new TelemetryFile('/dev/full');
    assert.doesNotThrow(() => file.write(pass(1, 'iterate', 1, 0, 0, 10)));
    assert.doesNotThrow(() => file.write(pass(2, 'iterate', 1, 0, 10, 20)));
    assert.equal(file.lines, 0);
    assert.throws(() => file.close(), /telemetry file \/dev\/full is incomplete/);
  });
});
