/**
 * The fault matrix: real processes (a `livemig run` source driven through its monitor, `livemig
 * incoming` destinations), with a fault proxy between them (fault-proxy.ts) that hits a chosen
 * phase of the stream exactly. Faults: the destination killed, the connection cut, the
 * destination rejecting a bad record, the destination rejecting a bad digest, the source
 * cancelled. Phases: setup, the first pass, a later pass, stop-and-copy.
 *
 * In every cell: the source reports `failed (<reason>)` (or `cancelled`), its guest keeps
 * running, the faulty destination never reports a completed or resumed guest, and a new
 * migration of the same source to a fresh destination completes with equal digests and a
 * consistent stride pattern — which proves the source's memory came through intact.
 *
 * The source runs the stride workload (byte 0 of every page incremented, sweep after sweep,
 * paced to ~10 sweeps a second), XBZRLE on, a 1 ms downtime limit (so it keeps iterating) and
 * a 6-pass limit with a forced switchover (so it ends), 16 MiB/s in the iterate stage (so the
 * first pass takes ~0.5 s).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInfo, startDestination, startSource, stopAll } from '../helpers/processes.js';
import type { Destination, Source } from '../helpers/processes.js';
import { FaultProxy, type Fault, type Fired, type Phase } from './fault-proxy.js';

type FaultName = 'kill-destination' | 'cut' | 'bad-record' | 'bad-digest' | 'cancel';
const PHASES: readonly Phase[] = ['setup', 'pass1', 'later-pass', 'stop-and-copy'];
const FAULTS: readonly FaultName[] = ['kill-destination', 'cut', 'bad-record', 'bad-digest', 'cancel'];

interface Row {
  fault: FaultName;
  phase: Phase;
  source: string;
  destination: string;
  at: string;
  recovered: string;
}
const rows: Row[] = [];

after(() => {
  stopAll();
  const order = (r: Row) => FAULTS.indexOf(r.fault) * 10 + PHASES.indexOf(r.phase);
  rows.sort((a, b) => order(a) - order(b));
  const lines = ['| fault | phase | source after the fault | faulty destination | fault at | new migration |', '| --- | --- | --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${r.fault} | ${r.phase} | ${r.source} | ${r.destination} | ${r.at} | ${r.recovered} |`);
  process.stdout.write(`\nfault matrix:\n${lines.join('\n')}\n`);
});

const SETUP = [
  'migrate_set_capability xbzrle on',
  // smaller than the 8 MiB of RAM: pages are cached from the second pass (QEMU's rule), so the
  // stride guest's pages go whole again in pass 2 and the migration runs later passes
  'migrate_set_parameter xbzrle-cache-size 4M',
  'migrate_set_parameter downtime-limit 1',
  'migrate_set_parameter max-bandwidth 16M',
  'migrate_set_parameter max-iterations 6',
];

/** Polls `info migrate` until the migration has ended; returns its status line. */
async function finalStatus(src: Source, ms = 30_000): Promise<string> {
  const until = Date.now() + ms;
  for (;;) {
    const status = parseInfo(await src.ask('info migrate')).get('Migration status') ?? '';
    if (/^(failed|cancelled|completed)/.test(status)) return status;
    if (Date.now() > until) throw new Error(`migration still '${status}' after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

function short(text: string, n = 90): string {
  const t = text.replace(/\|/g, '/').replace(/tcp:127\.0\.0\.1:\d+/g, 'tcp:…').replace(/127\.0\.0\.1:\d+/g, '…');
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

async function runCell(fault: FaultName, phase: Phase): Promise<void> {
  // With stride every page is sent whole again in pass 2 (XBZRLE starts after the first full
  // pass), which rightly heals a page corrupted in pass 1: that cell uses an idle guest, whose
  // pages go once.
  const workload = fault === 'bad-digest' && phase === 'pass1' ? 'idle' : 'stride';
  // Paced so that byte 0 of a page does not wrap round to 0 during the migration (256 sweeps
  // take ~26 s): unpaced, a page came back to all zeros every ~25 ms and a later pass sent it
  // as a ZERO record, which heals a page a bad-digest fault corrupted in an earlier pass.
  const pace = workload === 'stride' ? ['--rate', '20k'] : [];
  const dst1 = startDestination('tcp:127.0.0.1:0');
  const listening = String((await dst1.waitFor('listening'))['uri']);
  const src = startSource(['--ram', '8M', '--workload', workload, ...pace]);
  for (const c of SETUP) assert.deepEqual(await src.ask(c), [], `${c} printed an error`);
  const proxyFault: Fault = fault === 'kill-destination' || fault === 'cancel' ? 'hold' : fault;
  const onFire = fault === 'kill-destination' ? () => dst1.proc.kill('SIGKILL') : fault === 'cancel' ? () => src.send('migrate_cancel') : undefined;
  const proxy = await FaultProxy.start(listening.slice('tcp:'.length), phase, proxyFault, onFire);
  let fired: Fired | undefined;
  void proxy.fired.then((f) => (fired = f));
  try {
    if (fault === 'cancel' && phase === 'setup') {
      // both lines at once: the cancel arrives while the migration is still in setup
      src.proc.stdin.write(`migrate -d ${proxy.address}\nmigrate_cancel\n`);
    } else {
      src.send(`migrate -d ${proxy.address}`); // its failure line may come at any time: read the status below
    }
    const status = await finalStatus(src);
    // the source gave up while the proxy held its stream: the destination sees the stream end there
    if (fault === 'cancel') proxy.dropConnections();
    if (fault === 'cancel') assert.equal(status, 'cancelled', `cancel at ${phase}`);
    else assert.match(status, /^failed \(.+\)$/, `${fault} at ${phase}: the source must fail with a reason, got '${status}'`);
    assert.deepEqual(await src.ask('info status'), ['VM status: running'], 'the source guest runs on');
    const sourceSays = status;

    // the faulty destination: never completed, never resumed
    let destination: string;
    if (fault === 'kill-destination') {
      assert.equal(await dst1.exited, null, 'killed by a signal');
      destination = 'killed';
    } else if (fault === 'cancel' && phase === 'setup' && fired === undefined) {
      await new Promise((r) => setTimeout(r, 300));
      dst1.proc.kill('SIGTERM');
      await dst1.exited;
      destination = 'never saw a stream byte';
    } else {
      const failed = await dst1.waitFor('failed', 20_000);
      destination = `failed: ${String(failed['error'])}`;
      assert.equal(await dst1.exited, 1);
    }
    assert.deepEqual(dst1.events.filter((e) => e.event === 'completed' || e.event === 'ran'), [], 'the faulty destination never completes or resumes');
    if (fault !== 'cancel' || phase !== 'setup') {
      assert.ok(fired, `the ${fault} fault fired at ${phase}`);
      if (phase === 'later-pass') assert.equal(fired.section, 'part', 'a later pass is an iterate (PART) section');
      if (phase === 'stop-and-copy') assert.ok(fired.section === 'end' || fired.section === 'full', 'stop-and-copy: END or the digest after it');
      if (phase === 'pass1') assert.ok(fired.records < fired.totalPages, 'inside the first pass');
      if (phase === 'later-pass') assert.ok(fired.records >= fired.totalPages, 'after the first pass');
    }
    if (fault === 'bad-digest') assert.match(destination, /RAM digest mismatch/);
    if (fault === 'bad-record') assert.match(destination, /Unknown combination of migration flags: 0x[0-9a-f]+ at stream offset \d+/);

    // a new migration from the same source: the source's memory is intact
    const dst2 = startDestination('tcp:127.0.0.1:0', ['--exit-after', '200']);
    const uri2 = String((await dst2.waitFor('listening'))['uri']);
    const out = await src.ask(`migrate ${uri2}`, 60_000);
    assert.deepEqual(out, ['Migration status: completed'], `the new migration: ${out.join('\n')}`);
    const info = parseInfo(await src.ask('info migrate'));
    const done = await dst2.waitFor('completed');
    const incoming = done['incoming'] as Record<string, unknown>;
    assert.equal(incoming['ram-digest'], info.get('ram digest (page128)'), 'digests equal');
    const ran = await dst2.waitFor('ran');
    if (workload === 'stride') {
      assert.equal((incoming['stride-check'] as { ok: boolean }).ok, true, JSON.stringify(incoming['stride-check']));
      assert.equal((ran['strideCheck'] as { ok: boolean }).ok, true, 'stride consistent after running on');
    }
    assert.equal(await dst2.exited, 0);
    rows.push({
      fault,
      phase,
      source: short(sourceSays),
      destination: short(destination),
      at: fired ? `${fired.section} @${fired.offset} (record ${fired.records}/${fired.totalPages})` : 'before connecting',
      recovered: workload === 'stride' ? 'completed, digests equal, stride ok' : 'completed, digests equal (idle guest)',
    });
    src.send('quit');
    await src.exited;
  } finally {
    await proxy.close();
  }
}

describe('fault matrix', { concurrency: 3, timeout: 300_000 }, () => {
  for (const fault of FAULTS) {
    for (const phase of PHASES) {
      if (fault === 'bad-digest' && phase === 'setup') continue; // setup carries no memory whose digest could differ
      test(`${fault} during ${phase}`, { timeout: 90_000 }, () => runCell(fault, phase));
    }
  }
});

export type { Destination };
