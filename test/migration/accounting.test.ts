/**
 * Counters that are right in every state: passes numbered so a user can follow them, and the
 * page counters against the stream's bytes and the dirty pages left after a killed
 * destination and after a cancel. A VM of the test's own (test/helpers/counter-vm.ts).
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { IncomingMigration, OutgoingMigration } from '../../src/migration/index.js';
import type { MigrationInfo, PassRecord } from '../../src/migration/index.js';
import { listenIncoming } from '../../src/transport/index.js';
import { COUNTER_KIND, CounterVm, counterKind } from '../helpers/counter-vm.js';

const DESTINATION = fileURLToPath(new URL('./fixtures/counter-destination.js', import.meta.url));
const PAGE = 4096;

/** A running CounterVm, stopped when the test ends (an assertion that fails must not leave it running). */
function runningVm(t: TestContext, pages64k: number, random: boolean): CounterVm {
  const vm = new CounterVm(new WebAssembly.Memory({ initial: pages64k }));
  if (random) randomFillSync(new Uint8Array(vm.wasm.buffer));
  vm.resume();
  t.after(() => vm.stop());
  return vm;
}

/** Waits (on state, polled between turns of the event loop) until `ok()`. */
async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setTimeout(r, 2));
}

/**
 * What a source's counters must satisfy whatever happened: every record counted went into the
 * stream, so the bytes of the records of each kind fit in `transferred`; and while the first
 * pass runs (no sync since setup), every page is either counted as sent or still dirty.
 */
function assertConsistent(info: MigrationInfo, pageCount: number): void {
  const r = info.ram!;
  const firstPass = r['dirty-sync-count'] === 1;
  const l = info.livemig!;
  const records = r.normal + r.duplicate + l['delta-records'];
  // whole pages carry an 8-byte header each; zero and delta records count their own headers
  const recordBytes = r['normal-bytes'] + r.normal * 8 + l['duplicate-bytes'] + l['delta-record-bytes'];
  assert.ok(recordBytes <= r.transferred, `${records} records of ${recordBytes} bytes, but transferred is ${r.transferred}: ${JSON.stringify(r)}`);
  assert.ok(r['normal-bytes'] <= r.transferred, `normal bytes ${r['normal-bytes']} > transferred ${r.transferred}`);
  assert.equal(r.remaining % PAGE, 0);
  if (firstPass) assert.equal(r.normal + r.duplicate + r.remaining / PAGE, pageCount, `sent + left = every page: ${JSON.stringify(r)}`);
}

test('passes are numbered 1, 2, 3, ... while the dirty-sync-count skips at the end', { timeout: 60_000 }, async (t) => {
  const listener = await listenIncoming('tcp:127.0.0.1:0');
  t.after(() => listener.close().catch(() => undefined));
  const incoming = new IncomingMigration({ machines: { [COUNTER_KIND]: counterKind } });
  const received = listener.accept({ timeoutMs: 30_000 }).then((ch) => incoming.run(ch));
  const vm = runningVm(t, 16, false); // 1 MiB, a page written per step
  // a page written per step against a 1 ms downtime limit: several passes (at most four)
  const m = new OutgoingMigration({ guest: vm, parameters: { 'max-bandwidth': 1 << 20, 'downtime-limit': 1, 'max-iterations': 4, 'stall-policy': 'force' } });
  const started: number[] = [];
  const ended: PassRecord[] = [];
  m.on('pass', (p) => started.push(p));
  m.on('pass-end', (r) => ended.push(r));
  assert.equal(await m.run(listener.address), 'completed', m.error?.message);
  assert.equal(await received, 'completed');
  const info = m.info();
  const n = ended.length;
  assert.ok(n >= 2, `${n} passes`);
  const oneToN = Array.from({ length: n }, (_, i) => i + 1);
  assert.deepEqual(ended.map((r) => r.pass), oneToN, 'pass-end records');
  assert.deepEqual(started, oneToN, 'pass events');
  assert.deepEqual(m.passes.map((r) => r.pass), oneToN);
  assert.equal(ended[n - 1]!.stage, 'stop-and-copy');
  assert.equal(info.livemig?.pass, n);
  // QEMU's count of syncs: the iterate stage's last sync and the stop-and-copy's share a pass
  const syncs = info.ram!['dirty-sync-count'];
  assert.equal(syncs, n + 1, 'the sync count skips one at the end');
  assert.equal(ended[n - 1]!.dirtySyncCount, syncs, 'each record says the sync count at its end');
  assert.deepEqual(ended.slice(0, -1).map((r) => r.dirtySyncCount), oneToN.slice(0, -1));
  await incoming.guest?.stop();
});

test('a killed destination: the source fails, its guest runs on, and its counters hold only what went into the stream', { timeout: 60_000 }, async (t) => {
  const proc = spawn(process.execPath, [DESTINATION], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => proc.on('exit', r));
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const first = JSON.parse(String((await lines.next()).value)) as { uri: string };
  t.after(() => proc.kill('SIGKILL'));
  const vm = runningVm(t, 64, true); // 4 MiB at 1 MiB/s, every page whole: pass 1 outlasts the kill
  // a 1 MiB/s link paces the stop-and-copy too, so 4 MiB of random pages cannot converge in pass 1
  const m = new OutgoingMigration({ guest: vm, parameters: { 'link-bandwidth': 1 << 20 } });
  const done = m.run(first.uri);
  await until(() => (m.info().ram?.transferred ?? 0) > 512 * 1024);
  assertConsistent(m.info(), vm.memory.pageCount);
  proc.kill('SIGKILL');
  await exited;
  assert.equal(await done, 'failed');
  const info = m.info();
  assert.ok(info['error-desc'], 'the failure is said');
  assertConsistent(info, vm.memory.pageCount);
  assert.equal(info.ram!['dirty-sync-count'], 1, 'it ended in pass 1');
  assert.ok(info.ram!.remaining > 0, 'pages were left');
  assert.equal(vm.status, 'running', 'the source guest runs on');
});

test('a cancel in the first pass: remaining RAM is the pages not sent, and it stays so', { timeout: 60_000 }, async (t) => {
  const listener = await listenIncoming('tcp:127.0.0.1:0');
  t.after(() => listener.close().catch(() => undefined));
  const incoming = new IncomingMigration({ machines: { [COUNTER_KIND]: counterKind } });
  const received = listener.accept({ timeoutMs: 30_000 }).then((ch) => incoming.run(ch));
  const vm = runningVm(t, 64, true);
  // a 1 MiB/s link paces the stop-and-copy too, so 4 MiB of random pages cannot converge in pass 1
  const m = new OutgoingMigration({ guest: vm, parameters: { 'link-bandwidth': 1 << 20 } });
  const done = m.run(listener.address);
  await until(() => Number(incoming.info().incoming['bytes-read']) > 256 * 1024);
  assertConsistent(m.info(), vm.memory.pageCount);
  m.cancel();
  assert.equal(await done, 'cancelled');
  assert.equal(await received, 'failed');
  const info = m.info();
  assertConsistent(info, vm.memory.pageCount);
  assert.equal(info.ram!['dirty-sync-count'], 1, 'it ended in pass 1');
  assert.ok(info.ram!.remaining > 0 && info.ram!.remaining < vm.memory.totalBytes, `remaining ${info.ram!.remaining}`);
  const read = Number(incoming.info().incoming['bytes-read']);
  assert.ok(read > 256 * 1024 && read <= info.ram!.transferred, `the destination read ${read} of ${info.ram!.transferred}`);
  const counter = vm.counter;
  await until(() => vm.counter > counter + 10); // the guest runs on after the cancel
  assert.deepEqual(m.info(), info, 'an ended migration\'s counters do not move');
});
