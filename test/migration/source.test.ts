/**
 * The source state machine in one process: completion into a file that a loader checks,
 * cancel, a failing transport, the stall policies, and that the guest runs on after each
 * failure with a later migration succeeding.
 */
import { randomFillSync } from 'node:crypto';
import { CounterVm } from '../helpers/counter-vm.js';
import { createRamDigester, isRamDigestAlgorithm } from '../../src/hash.js';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Guest, GuestMemory, checkStride } from '../../src/guest/index.js';
import { SourceManager } from '../../src/migration/index.js';
import type { MigrationStatus, PassRecord } from '../../src/migration/index.js';
import { loadMigrationStream } from '../../src/stream/index.js';
import { statusReached, workAdvances } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'livemig-src-'));
const guests: Guest[] = [];
after(async () => {
  for (const g of guests) await g.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function guest(workload: 'stride' | 'seed' | 'random' | 'idle', mib = 4): Promise<Guest> {
  const g = await Guest.start({ memory: new GuestMemory([{ idstr: 'pc.ram', sizeBytes: mib << 20 }]), workload });
  guests.push(g);
  return g;
}

/** Loads a stream file; returns the loaded memory's digest (by the algorithm the stream names), the digest it carried and the statuses seen. */
async function load(file: string): Promise<{ digest: string; carried: string; ram: Uint8Array }> {
  let ram = new Uint8Array(0);
  let carried = '';
  let algorithm = '';
  await loadMigrationStream(createReadStream(file), {
    setupRam: (blocks) => {
      ram = new Uint8Array(blocks[0]!.lengthBytes);
      return new Map([[blocks[0]!.idstr, ram]]);
    },
    onDigest: (alg, d) => {
      algorithm = alg;
      carried = Buffer.from(d).toString('hex');
    },
  }, { maxRamBytes: 1 << 30 });
  assert.ok(isRamDigestAlgorithm(algorithm), `the stream's digest algorithm: ${algorithm}`);
  return { digest: (await createRamDigester(algorithm)).digest([ram]), carried, ram };
}

test('SourceManager.ready resolves once the digest worker is up, and a migration after it completes', async () => {
  const g = await guest('idle');
  const src = new SourceManager(g);
  await src.ready();
  const { done } = src.migrate(`file:${join(dir, 'ready.bin')}`);
  assert.equal(await done, 'completed');
  const r = await load(join(dir, 'ready.bin'));
  assert.equal(r.carried, r.digest);
  await g.stop();
  await new SourceManager(g).ready(); // a stopped guest has no worker: resolves at once
});

test('a completed migration: statuses in order, the file carries RAM equal to its digest, no NaN in info', async () => {
  const g = await guest('stride');
  const src = new SourceManager(g);
  src.setCapability('xbzrle', true);
  src.setParameter('xbzrle-cache-size', 1 << 20);
  const file = join(dir, 'a.mig');
  const { migration, done } = src.migrate(`file:${file}`);
  const statuses: MigrationStatus[] = [];
  migration.on('status', (s) => statuses.push(s));
  assert.equal(await done, 'completed');
  assert.deepEqual(statuses, ['active', 'device', 'completed']);
  assert.equal(g.status, 'paused', 'the source stays paused after completion (postmigrate)');
  const info = migration.info();
  assert.doesNotMatch(JSON.stringify(info), /NaN|Infinity|null/);
  assert.equal(info.ram?.remaining, 0);
  assert.ok((info.downtime ?? -1) >= 0);
  const { digest, carried, ram } = await load(file);
  assert.equal(digest, carried);
  assert.equal(digest, info.livemig?.['ram-digest']);
  const mem = GuestMemory.wrap([{ idstr: 'pc.ram', bytes: ram }]);
  assert.equal(checkStride(mem).ok, true);
  assert.ok(migration.passes.length >= 2 && migration.passes.at(-1)!.stage === 'stop-and-copy');
  g.resume();
});

test('cancel: status cancelled, the guest keeps running, a new migration completes', { timeout: 60_000 }, async () => {
  const g = await guest('seed', 8);
  const src = new SourceManager(g);
  src.setParameter('max-bandwidth', 1 << 20); // 8 s for one pass: it is active when the cancel comes
  const first = src.migrate(`file:${join(dir, 'b.mig')}`);
  await statusReached(first.migration, 'active');
  assert.throws(() => src.migrate(`file:${join(dir, 'c.mig')}`), /There's a migration process in progress/);
  assert.throws(() => src.setCapability('xbzrle', true), /There's a migration process in progress/);
  src.cancel();
  assert.equal(await first.done, 'cancelled');
  assert.equal(g.status, 'running');
  await workAdvances(g); // the workload still runs (or the test times out)
  src.setParameter('max-bandwidth', 0);
  const second = src.migrate(`file:${join(dir, 'c.mig')}`);
  assert.equal(await second.done, 'completed');
  const { digest, carried } = await load(join(dir, 'c.mig'));
  assert.equal(digest, carried);
  g.resume();
});

test('a transport that fails: status failed with the reason, the guest runs on', async () => {
  const g = await guest('random');
  const src = new SourceManager(g);
  const { migration, done } = src.migrate('exec:exit 3');
  assert.equal(await done, 'failed');
  assert.match(migration.info()['error-desc'] ?? '', /exec:exit 3/);
  assert.equal(g.status, 'running');
  const bad = src.migrate('tcp:127.0.0.1:1');
  assert.equal(await bad.done, 'failed');
  assert.match(bad.migration.error?.message ?? '', /refused/);
  assert.throws(() => src.migrate('bogus:thing'), /migration protocol|bogus/);
});

test('stall policy: cancel gives up after max-iterations; force switches over after max-time', async () => {
  // a guest on the event loop, which the paced link's waits let run: it dirties pages in every
  // pass whatever the machine's load (a worker thread starved for a pass dirtied none, and the
  // migration converged); random RAM, so that every page goes whole
  const g = new CounterVm(new WebAssembly.Memory({ initial: 4 }));
  randomFillSync(new Uint8Array(g.wasm.buffer));
  g.resume();
  const src = new SourceManager(g);
  src.setParameter('max-bandwidth', 0);
  // 256 KiB at 1 MiB/s: a first pass of ~0.25 s; with a 1 ms limit, one dirty page (4 KiB)
  // is over the threshold (1 KiB), and the link's waits let the guest dirty one each pass
  src.setParameter('link-bandwidth', 1 << 20);
  src.setParameter('downtime-limit', 1);
  src.setParameter('max-iterations', 3);
  src.setParameter('stall-policy', 'cancel');
  const a = src.migrate(`file:${join(dir, 'd.mig')}`);
  assert.equal(await a.done, 'failed');
  assert.match(a.migration.error?.message ?? '', /did not converge within 3 passes; stall-policy cancel/);
  assert.equal(g.status, 'running');
  src.setParameter('max-iterations', 0);
  src.setParameter('max-time', 800);
  src.setParameter('stall-policy', 'force');
  const b = src.migrate(`file:${join(dir, 'e.mig')}`);
  assert.equal(await b.done, 'completed');
  assert.equal(b.migration.forced, true);
  const { digest, carried } = await load(join(dir, 'e.mig'));
  assert.equal(digest, carried);
  await g.stop();
});

test('after a completed migration: the expected downtime it switched over on, beside the actual one, in info and in the stop-and-copy record', async () => {
  const g = await guest('seed');
  const src = new SourceManager(g);
  const records: PassRecord[] = [];
  const { migration, done } = src.migrate(`file:${join(dir, 'expected.bin')}`, { xbzrle: true });
  migration.on('pass-end', (r) => records.push(r));
  assert.equal(await done, 'completed');
  const info = migration.info();
  const expected = info.livemig?.['expected-downtime-at-switchover'];
  assert.equal(typeof expected, 'number');
  const last = records[records.length - 1]!;
  assert.equal(last.stage, 'stop-and-copy');
  assert.equal(last.downtimeMs, info.downtime);
  assert.equal(last.expectedDowntimeMs, expected);
  assert.ok(records.slice(0, -1).every((r) => r.stage === 'iterate' && r.downtimeMs === undefined));
});
