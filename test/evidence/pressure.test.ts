/**
 * Convergence under pressure, end to end in one process (source and destination over
 * loopback tcp through the simulated link): auto-converge throttles a guest that cannot
 * converge until it does, and lifts the throttle; the stall policies end a migration that
 * cannot finish; delta compression that does not pay is reported and, with auto-xbzrle,
 * switched off. Plus QEMU's throttle steps on the controller alone, with a fake clock.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, GuestMemory } from '../../src/guest/index.js';
import type { WorkloadName, WorkloadOptions } from '../../src/guest/index.js';
import { DEFAULT_PARAMETERS, IncomingMigration, SourceManager, checkParameter } from '../../src/migration/index.js';
import type { MigrationParameters, OutgoingMigration } from '../../src/migration/index.js';
import { AutoConverge } from '../../src/migration/auto-converge.js';
import { listenIncoming } from '../../src/transport/index.js';

const guests: Guest[] = [];
after(async () => {
  for (const g of guests) await g.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A guest on RAM that is already in use (no zero pages: pass 1 costs a full page a page). */
async function guest(workload: WorkloadName, mib: number, workloadOptions: WorkloadOptions = {}): Promise<Guest> {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: mib << 20 }]);
  const words = new Uint32Array(memory.blocks[0]!.bytes.buffer);
  for (let i = 0; i < words.length; i++) words[i] = Math.imul(i + 1, 0x9e3779b1);
  const g = await Guest.start({ memory, workload, seed: 3, workloadOptions });
  guests.push(g);
  return g;
}

async function workRate(g: Guest, ms: number): Promise<number> {
  const w0 = g.workDone();
  const t0 = performance.now();
  await sleep(ms);
  return ((g.workDone() - w0) * 1000) / (performance.now() - t0);
}

/** Migrates `g` to an IncomingMigration in this process; returns both ends once they are done. */
async function migrate(g: Guest, setup: (s: SourceManager) => void): Promise<{ m: OutgoingMigration; incoming: IncomingMigration; status: string }> {
  const listener = await listenIncoming('tcp:127.0.0.1:0');
  const incoming = new IncomingMigration();
  const received = listener.accept({ timeoutMs: 30_000 }).then((ch) => incoming.run(ch));
  const src = new SourceManager(g);
  src.setParameter('max-bandwidth', 0);
  setup(src);
  const { migration, done } = src.migrate(listener.address);
  const status = await done;
  await received.catch(() => undefined);
  await listener.close();
  if (incoming.guest) guests.push(incoming.guest as Guest);
  return { m: migration, incoming, status };
}

test('auto-converge: the controller follows QEMU: two high periods a step, 20 then +10, capped at max-cpu-throttle', () => {
  const params: MigrationParameters = { ...DEFAULT_PARAMETERS };
  let t = 0;
  let sent = 0;
  const ac = new AutoConverge(params, t, sent);
  const period = (dirtyPages: number, sentBytes: number): number | undefined => {
    t += 1000;
    sent += sentBytes;
    return ac.onSync(t, dirtyPages, 4104, sent, 0, t);
  };
  assert.equal(ac.onSync(500, 0, 4104, 0, 0, 500), undefined, 'a period shorter than 1 s decides nothing');
  assert.equal(period(1000, 10_000_000), undefined, 'dirtied 4.1 MB of 10 MB sent: under 50 %');
  assert.equal(period(10_000, 10_000_000), undefined, 'first high period');
  assert.equal(period(10_000, 10_000_000), 20, 'second high period: cpu-throttle-initial');
  assert.equal(period(10_000, 10_000_000), undefined);
  assert.equal(period(1000, 10_000_000), undefined, 'a good period does not reset the count');
  assert.equal(period(10_000, 10_000_000), 30, '+ cpu-throttle-increment');
  const seen: number[] = [];
  for (let i = 0; i < 40; i++) {
    const p = period(10_000, 10_000_000);
    if (p !== undefined) seen.push(p);
  }
  assert.deepEqual(seen, [40, 50, 60, 70, 80, 90, 99], 'capped at max-cpu-throttle 99, then no more steps');
  assert.equal(ac.steps.length, 9);
  // Parameters are read live, and the cap also bounds the first step.
  const p2: MigrationParameters = { ...DEFAULT_PARAMETERS, 'cpu-throttle-initial': 50, 'max-cpu-throttle': 30, 'throttle-trigger-threshold': 100 };
  const b = new AutoConverge(p2, 0, 0);
  assert.equal(b.onSync(1000, 3000, 4096, 10_000_000, 1, 1000), undefined, '12.3 MB dirtied > 10 MB sent at 100 %: high');
  assert.equal(b.onSync(2000, 3000, 4096, 20_000_000, 2, 2000), 30);
});

test('auto-converge parameters: QEMU names, defaults and ranges', () => {
  assert.equal(DEFAULT_PARAMETERS['throttle-trigger-threshold'], 50);
  assert.equal(DEFAULT_PARAMETERS['cpu-throttle-initial'], 20);
  assert.equal(DEFAULT_PARAMETERS['cpu-throttle-increment'], 10);
  assert.equal(DEFAULT_PARAMETERS['max-cpu-throttle'], 99);
  assert.throws(() => checkParameter('cpu-throttle-initial', 100), { message: "Parameter 'cpu_throttle_initial' expects an integer in the range of 1 to 99" });
  assert.throws(() => checkParameter('throttle-trigger-threshold', 0), { message: "Parameter 'throttle_trigger_threshold' expects an integer in the range of 1 to 100" });
  assert.equal(checkParameter('max-cpu-throttle', 99), 99);
});

test('auto-converge: a guest that cannot converge is throttled until it does; the migration completes; the throttle is lifted', { timeout: 90_000 }, async () => {
  // 1200 page writes/s of random pages against a 4 MiB/s link (~1020 pages/s): every pass
  // leaves the whole 4 MiB dirty. Throttled by 30 % it writes ~840 pages/s and converges.
  const options = { rate: 1200 };
  const plain = await guest('random', 4, options);
  const a = await migrate(plain, (s) => {
    s.setParameter('link-bandwidth', 4 << 20);
    s.setParameter('max-time', 4000);
  });
  assert.equal(a.status, 'completed');
  assert.equal(a.m.forced, true, 'without auto-converge it does not converge: forced at max-time');
  // Pending at a pass's start = pages the sync added + pages the previous pass left.
  const pending = a.m.passes.slice(1, -1).map((p, i) => p.dirtyPages + a.m.passes[i]!.remainingPages);
  assert.ok(pending.every((n) => n > 700), `each pass starts with most of the 1024 pages dirty: ${pending.join(',')}`);

  const g = await guest('random', 4, options);
  await sleep(100);
  const before = await workRate(g, 500);
  const throttles: number[] = [];
  const b = await migrate(g, (s) => {
    s.setParameter('link-bandwidth', 4 << 20);
    s.setCapability('auto-converge', true);
    s.setParameter('cpu-throttle-initial', 30);
    s.setParameter('max-time', 60_000);
    s.setParameter('stall-policy', 'cancel');
    s.onMigration((m) => m.on('throttle', (p) => throttles.push(p)));
  });
  assert.equal(b.status, 'completed', b.m.error?.message);
  assert.equal(b.m.forced, false, 'converged, not forced');
  assert.ok(throttles.length >= 1 && throttles[0] === 30, `throttle steps ${throttles.join(', ')}`);
  const info = b.m.info();
  const ac = info.livemig?.['auto-converge'];
  assert.ok(ac && ac['max-cpu-throttle-reached'] >= 30 && ac.steps.length === throttles.length);
  assert.equal(g.throttlePercent, 0, 'the throttle is lifted when the migration ends');
  const throttledPasses = b.m.passes.filter((p) => p.stage === 'iterate' && (p.throttlePercent ?? 0) > 0);
  assert.ok(throttledPasses.length > 0);
  const during = throttledPasses.reduce((s, p) => s + (p.guestWorkRate ?? 0), 0) / throttledPasses.length;
  assert.ok(during < before * 0.85, `the guest's work rate fell under throttling: ${before.toFixed(0)} → ${during.toFixed(0)} writes/s`);
  // After the migration the guest runs unthrottled on the destination.
  const dst = b.incoming.guest as Guest;
  await sleep(100);
  const afterRate = await workRate(dst, 500);
  assert.ok(afterRate > before * 0.8, `destination work rate ${afterRate.toFixed(0)} vs ${before.toFixed(0)} before`);
  assert.equal(b.incoming.ramDigest, b.m.ramDigest);
});

test('stall policy: cancel after max-time; force after max-iterations (the guest runs on after a cancel)', { timeout: 60_000 }, async () => {
  const g = await guest('bwmem', 4, { rate: 4000 });
  const a = await migrate(g, (s) => {
    s.setParameter('link-bandwidth', 8 << 20);
    s.setParameter('downtime-limit', 20);
    s.setParameter('max-time', 1500);
    s.setParameter('stall-policy', 'cancel');
  });
  assert.equal(a.status, 'failed');
  assert.match(a.m.error?.message ?? '', /did not converge within 1500 ms; stall-policy cancel/);
  assert.equal(g.status, 'running');
  const w = g.workDone();
  await sleep(50);
  assert.ok(g.workDone() > w, 'the guest runs on');
  const b = await migrate(g, (s) => {
    s.setParameter('link-bandwidth', 8 << 20);
    s.setParameter('downtime-limit', 20);
    s.setParameter('max-iterations', 4);
    s.setParameter('stall-policy', 'force');
  });
  assert.equal(b.status, 'completed');
  assert.equal(b.m.forced, true);
  assert.equal(b.m.info().ram?.['dirty-sync-count'], 5, '4 passes, then the stop-and-copy sync');
  assert.equal(b.incoming.ramDigest, b.m.ramDigest);
});

test('delta compression that does not pay is reported; with auto-xbzrle it is switched off; where it pays it stays on', { timeout: 60_000 }, async () => {
  const setup = (auto: boolean) => (s: SourceManager): void => {
    s.setCapability('xbzrle', true);
    s.setCapability('auto-xbzrle', auto);
    s.setParameter('xbzrle-cache-size', 4 << 20);
    s.setParameter('link-bandwidth', 16 << 20);
    s.setParameter('downtime-limit', 20); // 320 KiB may go during downtime: less than a tenth of the RAM
    s.setParameter('max-iterations', 6);
  };
  // bwmem rewrites every byte: every hit overflows.
  const dense = await guest('bwmem', 4, { rate: 6000 });
  const reported = await migrate(dense, setup(false));
  assert.equal(reported.status, 'completed');
  const a = reported.m.info().livemig?.['delta-assessment'];
  assert.ok(a, 'judged');
  assert.equal(a.verdict, 'hurts');
  assert.ok(a.gain < 1.1 && a['overflow-rate'] > 0.9, JSON.stringify(a));
  assert.equal(reported.m.deltaDisabledAtPass, 0, 'reported only, without auto-xbzrle');

  const dense2 = await guest('bwmem', 4, { rate: 6000 });
  const off = await migrate(dense2, setup(true));
  assert.equal(off.status, 'completed');
  const at = off.m.deltaDisabledAtPass;
  assert.ok(at >= 2 && at <= 4, `switched off in pass ${at}`);
  assert.equal(off.m.info().livemig?.['delta-disabled-at-pass'], at);
  const later = off.m.passes.filter((p) => p.pass > at);
  assert.ok(later.length > 0 && later.every((p) => p.cacheHits === 0 && p.pages.delta === 0), 'no delta work after it was switched off');
  assert.equal(off.incoming.ramDigest, off.m.ramDigest, 'the destination still gets every page right');

  // xbzrle-doc changes 4 bytes a page: deltas pay; auto-xbzrle leaves them on.
  const sparse = await guest('xbzrle-doc', 4);
  const on = await migrate(sparse, setup(true));
  assert.equal(on.status, 'completed');
  assert.equal(on.m.deltaDisabledAtPass, 0);
  const s = on.m.info().livemig?.['delta-assessment'];
  assert.ok(s && s.verdict === 'helps' && s.gain > 10, JSON.stringify(s));
});
