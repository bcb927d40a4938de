import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { OutgoingMigration, SourceManager } from '../../src/migration/index.js';
import { CounterVm } from '../helpers/counter-vm.js';

const DESTINATION = fileURLToPath(new URL('./fixtures/counter-destination.js', import.meta.url));

/** Starts the destination process and yields its JSON lines. */
function destination(): { lines: AsyncIterator<Record<string, unknown>>; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [DESTINATION], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: proc.stdout });
  const lines = (async function* () {
    for await (const l of rl) yield JSON.parse(l) as Record<string, unknown>;
  })();
  return { lines, exited: new Promise((r) => proc.on('exit', r)) };
}

test('a VM of the user\'s own (WebAssembly.Memory RAM, its own pause/resume) migrates between two processes', async () => {
  const dst = destination();
  const listening = (await dst.lines.next()).value as { uri: string };
  const vm = new CounterVm(new WebAssembly.Memory({ initial: 32 })); // 2 MiB
  vm.resume();
  const source = new SourceManager(vm);
  source.capabilities.xbzrle = true;
  const { migration, done } = source.migrate(listening.uri);
  assert.ok(migration instanceof OutgoingMigration);
  assert.equal(await done, 'completed', migration.error?.message);
  const atSwitchover = vm.counter;
  assert.equal(vm.status, 'paused', 'the source stays paused after the switchover');
  const result = (await dst.lines.next()).value as Record<string, unknown>;
  assert.equal(result['status'], 'completed', String(result['error']));
  assert.equal(result['kind'], 'counter-vm', 'the destination built the machine the source named');
  assert.equal(result['digest'], migration.ramDigest, 'the loaded RAM is the source\'s');
  assert.equal(result['atResume'], atSwitchover, 'the VM resumed from the source\'s device state');
  assert.ok(Number(result['later']) >= atSwitchover + 100, 'and it runs on at the destination');
  assert.equal(await dst.exited, 0);
  await vm.stop();
});

test('a destination that cannot build the machine refuses it, and the source runs on', async () => {
  // the synthetic-only destination of the default options: `counter-vm` is unknown there
  const { IncomingMigration } = await import('../../src/migration/index.js');
  const { listenIncoming } = await import('../../src/transport/index.js');
  const listener = await listenIncoming('tcp:127.0.0.1:0');
  const incoming = new IncomingMigration();
  const received = listener.accept({ timeoutMs: 30_000 }).then((ch) => incoming.run(ch));
  const vm = new CounterVm(new WebAssembly.Memory({ initial: 4 }));
  vm.resume();
  const m = new OutgoingMigration({ guest: vm });
  assert.equal(await m.run(listener.address), 'failed');
  assert.equal(await received, 'failed');
  await listener.close();
  assert.match(incoming.error?.message ?? '', /cannot build a machine of kind 'counter-vm' \(it builds: synthetic\)/);
  assert.match(m.error?.message ?? '', /counter-vm/, 'the source is told why');
  assert.equal(vm.status, 'running', 'the source VM keeps running');
  const before = vm.counter;
  await new Promise<void>((resolve) => {
    const check = (): void => void (vm.counter > before ? resolve() : setTimeout(check, 1));
    check();
  });
  await vm.stop();
});

test('verify off: no digest is taken or sent, the destination resumes unverified and says so; a destination still checks a digest that is sent', async () => {
  const { IncomingMigration } = await import('../../src/migration/index.js');
  const { listenIncoming } = await import('../../src/transport/index.js');
  const { COUNTER_KIND, counterKind } = await import('../helpers/counter-vm.js');
  for (const verify of ['off', 'before-resume'] as const) {
    const listener = await listenIncoming('tcp:127.0.0.1:0');
    const incoming = new IncomingMigration({ machines: { [COUNTER_KIND]: counterKind } });
    const received = listener.accept({ timeoutMs: 30_000 }).then((ch) => incoming.run(ch));
    const vm = new CounterVm(new WebAssembly.Memory({ initial: 4 }));
    vm.resume();
    const m = new OutgoingMigration({ guest: vm, parameters: { verify } });
    assert.equal(await m.run(listener.address), 'completed', m.error?.message);
    assert.equal(await received, 'completed', incoming.error?.message);
    await listener.close();
    if (verify === 'off') {
      assert.equal(m.ramDigest, undefined, 'the source took no digest');
      assert.equal(incoming.sourceDigest, undefined, 'none was sent');
      assert.equal(incoming.ramDigest, undefined, 'none was taken at the destination');
      assert.equal(incoming.info().incoming['verify'], 'off');
    } else {
      assert.match(m.ramDigest ?? '', /^[0-9a-f]{32}$/);
      assert.equal(incoming.ramDigest, m.ramDigest);
      assert.equal(incoming.info().incoming['verify'], undefined);
    }
    assert.equal((incoming.guest as CounterVm).restoredFrom, vm.counter, 'the destination resumed from the source\'s state');
    await vm.stop();
    await incoming.guest?.stop();
  }
});

test('counters in every state: the destination counts bytes as they arrive and after a failure; a cancelled source still shows what was left', async () => {
  const { IncomingMigration } = await import('../../src/migration/index.js');
  const { listenIncoming } = await import('../../src/transport/index.js');
  const { COUNTER_KIND, counterKind } = await import('../helpers/counter-vm.js');
  const listener = await listenIncoming('tcp:127.0.0.1:0');
  const incoming = new IncomingMigration({ machines: { [COUNTER_KIND]: counterKind } });
  const received = listener.accept({ timeoutMs: 30_000 }).then((ch) => incoming.run(ch));
  const vm = new CounterVm(new WebAssembly.Memory({ initial: 64 })); // 4 MiB at 1 MiB/s: seconds
  // every page non-zero, so that each goes whole: zero pages would cost a few bytes, and the
  // first pass could end before the cancel
  randomFillSync(new Uint8Array(vm.wasm.buffer));
  vm.resume();
  const m = new OutgoingMigration({ guest: vm, parameters: { 'max-bandwidth': 1024 * 1024 } });
  const done = m.run(listener.address);
  // wait (on state, not time) until the destination has read part of the stream
  while (!(Number(incoming.info().incoming['bytes-read']) > 100_000)) await new Promise((r) => setTimeout(r, 5));
  assert.equal(incoming.status, 'active', 'bytes are counted while the migration runs');
  m.cancel();
  assert.equal(await done, 'cancelled');
  assert.equal(await received, 'failed');
  await listener.close();
  const remaining = m.info().ram?.remaining ?? 0;
  assert.ok(remaining > 0 && remaining <= 4 * 1024 * 1024, `remaining after the cancel: ${remaining}`);
  assert.ok(Number(incoming.info().incoming['bytes-read']) > 100_000, 'what arrived before the failure stays counted');
  assert.equal(vm.status, 'running');
  await vm.stop();
});
