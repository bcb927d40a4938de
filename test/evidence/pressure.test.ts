/**
 * Convergence under pressure, end to end in one process (source and destination over
 * loopback tcp through the simulated link): auto-converge throttles a machine that cannot
 * converge until it does, and lifts the throttle; the stall policies end a migration that
 * cannot finish; delta compression that does not pay is reported and, with auto-xbzrle,
 * switched off. Plus QEMU's throttle steps on the controller alone, with a fake clock.
 *
 * The machine is a LockstepVm (test/helpers/lockstep-vm.ts): it writes one round of pages at
 * each dirty-log sync, so every pass finds the same pages dirty whatever the machine's load,
 * and whether a migration converges does not depend on how fast the guest got to run. What a
 * real guest's vCPUs do under a throttle is tested in workloads.test.ts; how fast real
 * guests converge with and without these policies is measured by bench/convergence.bench.ts
 * (and the `auto-converge` and `auto-xbzrle` cells of `livemig bench`).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PARAMETERS, IncomingMigration, SourceManager, checkParameter } from '../../src/migration/index.js';
import type { DeltaAssessment, MigrationParameters, OutgoingMigration } from '../../src/migration/index.js';
import { AutoConverge } from '../../src/migration/auto-converge.js';
import { emptySnapshot } from '../../src/migration/counters.js';
import type { CountersSnapshot } from '../../src/migration/counters.js';
import { listenIncoming } from '../../src/transport/index.js';
import { LOCKSTEP_KIND, LockstepVm, lockstepKind } from '../helpers/lockstep-vm.js';
import type { LockstepOptions } from '../helpers/lockstep-vm.js';

const machines: LockstepVm[] = [];
after(async () => {
  for (const vm of machines) await vm.stop(); // a stopped machine's source ends its digest worker
});

/** A 4 MiB machine (1024 pages) that rewrites its pages at every sync while it runs. */
function machine(pattern: LockstepOptions['pattern']): LockstepVm {
  const vm = new LockstepVm({ mib: 4, pattern });
  machines.push(vm);
  return vm;
}

/** Migrates `vm` to an IncomingMigration in this process; returns both ends once they are done. */
async function migrate(vm: LockstepVm, setup: (s: SourceManager) => void): Promise<{ m: OutgoingMigration; incoming: IncomingMigration; status: string; assessments: DeltaAssessment[] }> {
  const listener = await listenIncoming('tcp:127.0.0.1:0');
  const incoming = new IncomingMigration({ machines: { [LOCKSTEP_KIND]: lockstepKind } });
  const received = listener.accept({ timeoutMs: 30_000 }).then((ch) => incoming.run(ch));
  const src = new SourceManager(vm);
  src.setParameter('max-bandwidth', 0);
  setup(src);
  const assessments: DeltaAssessment[] = [];
  const { migration, done } = src.migrate(listener.address);
  migration.on('delta-assessment', (a) => assessments.push(a));
  const status = await done;
  await received.catch(() => undefined);
  await listener.close();
  if (incoming.guest) machines.push(incoming.guest as LockstepVm);
  return { m: migration, incoming, status, assessments };
}

test('auto-converge: the controller follows QEMU: two high periods a step, 20 then +10, capped at max-cpu-throttle', () => {
  const params: MigrationParameters = { ...DEFAULT_PARAMETERS };
  let t = 0;
  let sent = 0;
  let dirty = 0;
  // the counters after a sync at `at` that found `pages` pages, `total` bytes sent so far
  const at = (ms: number, pages: number, total: number): CountersSnapshot => ({ ...emptySnapshot(ms), dirtyPages: (dirty += pages), transferred: total });
  const ac = new AutoConverge(params, at(t, 0, sent));
  const period = (dirtyPages: number, sentBytes: number): number | undefined => {
    t += 1000;
    sent += sentBytes;
    return ac.onSync(at(t, dirtyPages, sent), 4104, 0, t);
  };
  assert.equal(ac.onSync(at(500, 0, 0), 4104, 0, 500), undefined, 'a period shorter than 1 s decides nothing');
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
  dirty = 0;
  const b = new AutoConverge(p2, at(0, 0, 0));
  assert.equal(b.onSync(at(1000, 3000, 10_000_000), 4096, 1, 1000), undefined, '12.3 MB dirtied > 10 MB sent at 100 %: high');
  assert.equal(b.onSync(at(2000, 3000, 20_000_000), 4096, 2, 2000), 30);
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

test('auto-converge: a machine that cannot converge is throttled until it does; the migration completes; the throttle is lifted', { timeout: 90_000 }, async () => {
  // Every page rewritten between syncs, against a 4 MiB/s link: each pass leaves all 1024
  // pages dirty, far more than the ~300 pages the link moves in the 300 ms downtime limit.
  const plain = machine('dense');
  const a = await migrate(plain, (s) => {
    s.setParameter('link-bandwidth', 4 << 20);
    s.setParameter('max-iterations', 4);
  });
  assert.equal(a.status, 'completed', a.m.error?.message);
  assert.equal(a.m.forced, true, 'without auto-converge it does not converge: forced after max-iterations');
  // Pending at a pass's start = pages the sync added + pages the previous pass left.
  const pending = a.m.passes.slice(1, -1).map((p, i) => p.dirtyPages + a.m.passes[i]!.remainingPages);
  assert.ok(pending.length >= 2 && pending.every((n) => n === 1024), `each pass starts with every page dirty: ${pending.join(', ')}`);
  assert.deepEqual(plain.throttles, [], 'no throttle without the capability');

  // Throttled to 95 % it writes 52 pages a round: under the downtime limit. The controller
  // needs two periods of at least 1 s that dirtied more than half of what they sent.
  const vm = machine('dense');
  const throttles: number[] = [];
  const b = await migrate(vm, (s) => {
    s.setParameter('link-bandwidth', 4 << 20);
    s.setCapability('auto-converge', true);
    s.setParameter('cpu-throttle-initial', 95);
    s.setParameter('stall-policy', 'cancel');
    s.onMigration((m) => m.on('throttle', (p) => throttles.push(p)));
  });
  assert.equal(b.status, 'completed', b.m.error?.message);
  assert.equal(b.m.forced, false, 'converged, not forced');
  assert.equal(throttles[0], 95, `throttle steps ${throttles.join(', ')}`);
  assert.deepEqual(vm.throttles, [...throttles, 0], 'the machine got each step, and 0 when the migration ended');
  assert.equal(vm.throttlePercent, 0, 'the throttle is lifted');
  const info = b.m.info();
  const ac = info.livemig?.['auto-converge'];
  assert.ok(ac && ac['max-cpu-throttle-reached'] === throttles.at(-1) && ac.steps.length === throttles.length, JSON.stringify(ac));
  const throttledPasses = b.m.passes.filter((p) => p.stage === 'iterate' && (p.throttlePercent ?? 0) > 0);
  assert.ok(throttledPasses.length > 0, 'pass records show the throttle');
  assert.ok(b.m.passes.at(-1)!.dirtyPages <= 52, 'the last pass had the throttled round only');
  // The destination's machine runs unthrottled from the source's state.
  const dst = b.incoming.guest as LockstepVm;
  assert.equal(dst.status, 'running');
  assert.equal(dst.throttlePercent, 0);
  assert.equal(dst.rounds, vm.rounds, 'resumed from the source\'s device state');
  assert.equal(b.incoming.ramDigest, b.m.ramDigest);
});

test('stall policy: cancel after max-time; force after max-iterations (the machine runs on after a cancel)', { timeout: 60_000 }, async () => {
  const vm = machine('dense');
  const a = await migrate(vm, (s) => {
    s.setParameter('link-bandwidth', 8 << 20);
    s.setParameter('downtime-limit', 20);
    s.setParameter('max-time', 1500);
    s.setParameter('stall-policy', 'cancel');
  });
  assert.equal(a.status, 'failed');
  assert.match(a.m.error?.message ?? '', /did not converge within 1500 ms; stall-policy cancel/);
  assert.equal(vm.status, 'running', 'the machine runs on');
  const roundsBefore = vm.rounds;
  const b = await migrate(vm, (s) => {
    s.setParameter('link-bandwidth', 8 << 20);
    s.setParameter('downtime-limit', 20);
    s.setParameter('max-iterations', 4);
    s.setParameter('stall-policy', 'force');
  });
  assert.equal(b.status, 'completed');
  assert.equal(b.m.forced, true);
  assert.equal(b.m.info().ram?.['dirty-sync-count'], 5, '4 passes, then the stop-and-copy sync');
  assert.equal(vm.rounds, roundsBefore + 4, 'it wrote a round at each sync while it ran: setup\'s and 3 more');
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
  // Dense rewrites (every word, as bwmem): every hit overflows.
  const reported = await migrate(machine('dense'), setup(false));
  assert.equal(reported.status, 'completed');
  const a = reported.m.info().livemig?.['delta-assessment'];
  assert.ok(a, 'judged');
  assert.equal(a.verdict, 'hurts');
  assert.ok(a.gain < 1.1 && a['overflow-rate'] > 0.9, JSON.stringify(a));
  assert.equal(reported.m.deltaDisabledAtPass, 0, 'reported only, without auto-xbzrle');

  const off = await migrate(machine('dense'), setup(true));
  assert.equal(off.status, 'completed');
  const at = off.m.deltaDisabledAtPass;
  // the first window (the pass after the one that filled the cache) is judged and switches it off
  assert.equal(off.assessments[0]?.verdict, 'hurts', JSON.stringify(off.assessments));
  assert.equal(at, off.assessments[0].pass, `switched off in pass ${at}, at its first judgement`);
  assert.equal(off.m.info().livemig?.['delta-disabled-at-pass'], at);
  const before = off.m.passes.filter((p) => p.pass < at);
  assert.ok(before.some((p) => p.cacheHits > 0), 'delta work before it was switched off');
  const later = off.m.passes.filter((p) => p.pass > at);
  assert.ok(later.length > 0 && later.every((p) => p.cacheHits === 0 && p.pages.delta === 0), 'no delta work after it was switched off');
  assert.equal(off.incoming.ramDigest, off.m.ramDigest, 'the destination still gets every page right');

  // Sparse rewrites (4 bytes a page, as xbzrle-doc): deltas pay; auto-xbzrle leaves them on.
  // Priced by what they encode to, the sparse pages would fit 20 ms as soon as the cache holds
  // them, before any window is judged: a 1 ms limit keeps it iterating to max-iterations.
  const on = await migrate(machine('sparse'), (s) => {
    setup(true)(s);
    s.setParameter('downtime-limit', 1);
  });
  assert.equal(on.status, 'completed');
  assert.equal(on.m.deltaDisabledAtPass, 0);
  const s = on.m.info().livemig?.['delta-assessment'];
  assert.ok(s && s.verdict === 'helps' && s.gain > 10, JSON.stringify(s));
  assert.equal(on.incoming.ramDigest, on.m.ramDigest);
});
