/**
 * observeMigrations (what `livemig run --telemetry F --report F.html` calls): every
 * migration of a SourceManager gets telemetry lines and a place in the report, which is
 * rewritten after each one; a bar is drawn only on a terminal.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Guest, GuestMemory } from '../../src/guest/index.js';
import { SourceManager } from '../../src/migration/index.js';
import { observeMigrations } from '../../src/cli/report/index.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('livemig-observe-');
after(tmp.remove);

describe('observeMigrations', { timeout: 60_000 }, () => {
  test('two migrations of one guest: telemetry for both, a report rewritten after each', async () => {
    const guest = await Guest.start({ memory: new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 4 * 1024 * 1024 }]), workload: 'seed', seed: 3 });
    try {
      const src = new SourceManager(guest);
      src.setParameter('max-bandwidth', 0);
      src.setParameter('link-bandwidth', 16 * 1024 * 1024);
      src.setParameter('max-time', 1000);
      const report = join(tmp.dir, 'run.html');
      const telemetry = join(tmp.dir, 'run.jsonl');
      const quiet: string[] = [];
      const obs = observeMigrations(src, { telemetry, report, progress: { isTTY: false, write: (s: string | Uint8Array) => (quiet.push(String(s)), true) }, reportOptions: { title: 'livemig run' } });
      src.setCapability('xbzrle', true);
      assert.equal(await src.migrate(`file:${join(tmp.dir, 'a.mig')}`).done, 'completed');
      await obs.flushed();
      assert.equal(obs.runs.length, 1);
      assert.match(readFileSync(report, 'utf8'), /migration 1: XBZRLE, 64 MiB cache \(2-way\)/);
      // the source guest was paused by the completed migration; resume it to migrate again
      guest.resume();
      src.setCapability('xbzrle', false);
      assert.equal(await src.migrate(`file:${join(tmp.dir, 'b.mig')}`).done, 'completed');
      await obs.close();
      assert.deepEqual(obs.runs.map((r) => r.label), ['migration 1: XBZRLE, 64 MiB cache (2-way)', 'migration 2: no delta compression']);
      const html = readFileSync(report, 'utf8');
      assert.match(html, /<title>livemig run<\/title>/);
      assert.ok(html.includes('migration 2: no delta compression'));
      // six plots each, less the cache-miss plot of the run without a cache, and the downtime plot
      assert.equal((html.match(/<svg\b/g) ?? []).length, 6 * 2 - 1 + 1);
      const runs = readFileSync(telemetry, 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { run: string }).run);
      assert.ok(runs.includes('migration 1: XBZRLE, 64 MiB cache (2-way)') && runs.includes('migration 2: no delta compression'));
      assert.equal(runs.length, obs.runs.reduce((a, r) => a + r.passes.length, 0), 'a line per pass of each');
      assert.deepEqual(quiet, [], 'no bar when the stream is not a terminal');
    } finally {
      await guest.stop();
    }
  });

  test('each migration is labelled by what it used, and a cancelled one is explained with no empty chart', async () => {
    const guest = await Guest.start({ memory: new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 4 * 1024 * 1024 }]), workload: 'seed', seed: 5 });
    try {
      const src = new SourceManager(guest);
      src.setParameter('max-bandwidth', 0);
      src.setParameter('link-bandwidth', 16 * 1024 * 1024);
      src.setParameter('max-time', 1000);
      const report = join(tmp.dir, 'labels.html');
      const obs = observeMigrations(src, { report });
      src.setCapability('xbzrle', true);
      src.setCapability('auto-xbzrle', true);
      src.setParameter('delta-codec', 'xbrle');
      src.setParameter('xbzrle-cache-size', 1024 * 1024);
      src.setParameter('cache-ways', 1);
      assert.equal(await src.migrate(`file:${join(tmp.dir, 'l1.mig')}`).done, 'completed');
      guest.resume();
      // cancelled once its first pass has ended
      src.setCapability('auto-xbzrle', false);
      src.setParameter('delta-codec', 'xbzrle');
      const { migration, done } = src.migrate(`file:${join(tmp.dir, 'l2.mig')}`);
      migration.once('pass-end', () => migration.cancel());
      assert.equal(await done, 'cancelled');
      await obs.close();
      const [first, second] = obs.runs;
      const switched = first!.info.livemig?.['delta-disabled-at-pass'];
      assert.equal(first!.label, `migration 1: XBRLE, 1 MiB cache (1-way), auto-xbzrle${switched ? `: off at pass ${switched}` : ''}`);
      assert.equal(second!.label, 'migration 2: XBZRLE, 1 MiB cache (1-way)');
      const html = readFileSync(report, 'utf8');
      const last = second!.passes[second!.passes.length - 1]!;
      assert.ok(html.includes(`<strong>migration 2: XBZRLE, 1 MiB cache (1-way)</strong> was cancelled `), 'the cancel is explained');
      assert.match(html, new RegExp(`in the pass after pass ${last.pass} \\(${second!.passes.length} pass(es)? complete\\); it had sent [\\d.]+ [KM]iB`));
      assert.doesNotMatch(html, /class="empty"/, 'no empty chart');
    } finally {
      await guest.stop();
    }
  });

  test('bad paths fail before any migration', () => {
    const src = { onMigration: () => assert.fail('must not subscribe') };
    assert.throws(() => observeMigrations(src, { report: join(tmp.dir, 'nope', 'r.html') }), { code: 'INVALID_ARGUMENT', message: /--report: cannot write into/ });
    assert.throws(() => observeMigrations(src, { telemetry: join(tmp.dir, 'nope', 't.jsonl') }), { code: 'INVALID_ARGUMENT' });
  });
});
