/**
 * The transport stall timeouts as migration parameters (`read-timeout`, `write-timeout`, ms,
 * 0 = no timeout), in process through HMP and QMP sessions on one Machine: defaults (the
 * transport's), setting, showing, every rejection, refused during a migration, and each one
 * used by the next migration: write-timeout against a peer that never reads, read-timeout
 * against a destination that takes the whole stream and never confirms.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { Guest, GuestMemory } from '../../src/guest/index.js';
import { SourceManager } from '../../src/migration/index.js';
import { DEFAULT_READ_TIMEOUT_MS, DEFAULT_WRITE_TIMEOUT_MS } from '../../src/transport/index.js';
import { Hmp, Machine, QmpSession } from '../../src/monitor/index.js';

const MiB = 1024 * 1024;
let guest: Guest;
let source: SourceManager;
let machine: Machine;
let hmp: Hmp;
const servers: Server[] = [];
const sockets: Socket[] = [];

before(async () => {
  guest = await Guest.start({ memory: new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 16 * MiB }]), workload: 'stride' });
  source = new SourceManager(guest);
  machine = new Machine({ source });
  hmp = new Hmp(machine, () => undefined);
});
after(async () => {
  source.cancel();
  for (const s of sockets) s.destroy();
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  machine.close();
  await guest.stop();
});

/** A tcp peer on 127.0.0.1: `stall` accepts and never reads; `mute` reads everything and never replies. */
async function peer(kind: 'stall' | 'mute'): Promise<string> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    if (kind === 'stall') s.pause();
    else s.resume();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `tcp:127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A QMP session already past negotiation; `call` resolves with its one reply. */
async function qmp(): Promise<(execute: string, args?: Record<string, unknown>) => Promise<Record<string, unknown>>> {
  let reply: (m: Record<string, unknown>) => void = () => undefined;
  const session = new QmpSession(machine, (m) => reply(m as Record<string, unknown>));
  const call = (execute: string, args: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve) => {
      reply = resolve;
      void session.handle({ kind: 'message', text: JSON.stringify({ execute, arguments: args }) });
    });
  await call('qmp_capabilities');
  return call;
}

const shown = async (name: string) => (await hmp.execute('info migrate_parameters')).split('\n').find((l) => l.startsWith(`${name}: `));

describe('read-timeout and write-timeout parameters', { timeout: 60_000 }, () => {
  test('defaults are the transport\'s; HMP sets and shows them in ms, 0 = no timeout', async () => {
    assert.equal(await shown('read-timeout'), `read-timeout: ${DEFAULT_READ_TIMEOUT_MS} ms`);
    assert.equal(await shown('write-timeout'), `write-timeout: ${DEFAULT_WRITE_TIMEOUT_MS} ms`);
    assert.equal(await hmp.execute('migrate_set_parameter write-timeout 500'), '');
    assert.equal(await shown('write-timeout'), 'write-timeout: 500 ms');
    assert.equal(await hmp.execute('migrate_set_parameter read_timeout 0'), '', "QEMU's older underscore spelling");
    assert.equal(await shown('read-timeout'), 'read-timeout: 0 ms');
    assert.equal(await hmp.execute('migrate_set_parameter read-timeout 2147483647'), '');
    assert.equal(source.parameters['read-timeout'], 2147483647);
    assert.match(await hmp.execute('help migrate_set_parameter'), /read-timeout and write-timeout in ms \(timeouts: 0 = none\)/);
  });

  test('HMP rejects a value that is not a whole number of ms or is too large, and changes nothing', async () => {
    await hmp.execute('migrate_set_parameter write-timeout 700');
    const bad: [string, RegExp][] = [
      ['write-timeout -1', /^Error: invalid write-timeout '-1': expected a whole number$/],
      ['write-timeout 1.5', /^Error: invalid write-timeout '1.5': expected a whole number$/],
      ['write-timeout 5s', /^Error: invalid write-timeout '5s': expected a whole number$/],
      ['write-timeout soon', /^Error: invalid write-timeout 'soon': expected a whole number$/],
      ['write-timeout 2147483648', /^Error: Parameter 'write-timeout' expects a whole number of milliseconds from 0 \(no timeout\) to 2147483647, got 2147483648$/],
      ['read-timeout 99999999999', /^Error: Parameter 'read-timeout' expects a whole number of milliseconds from 0 \(no timeout\) to 2147483647, got 99999999999$/],
      ['write-timeout', /^Error: usage: migrate_set_parameter name value$/],
    ];
    for (const [args, re] of bad) assert.match(await hmp.execute(`migrate_set_parameter ${args}`), re, args);
    assert.equal(await shown('write-timeout'), 'write-timeout: 700 ms');
  });

  test('QMP: query-migrate-parameters shows them, migrate-set-parameters types and checks them, all or nothing', async () => {
    const call = await qmp();
    assert.deepEqual(await call('migrate-set-parameters', { 'read-timeout': 1500, 'write-timeout': 0 }), { return: {} });
    const p = (await call('query-migrate-parameters'))['return'] as Record<string, unknown>;
    assert.equal(p['read-timeout'], 1500);
    assert.equal(p['write-timeout'], 0);
    const errors: [Record<string, unknown>, string][] = [
      [{ 'write-timeout': '500' }, "Invalid parameter type for 'write-timeout', expected: integer"],
      [{ 'write-timeout': 0.5 }, "Invalid parameter type for 'write-timeout', expected: integer"],
      [{ 'read-timeout': null }, "Invalid parameter type for 'read-timeout', expected: integer"],
      [{ 'read-timeout': 10, 'write-timeout': -1 }, "Parameter 'write-timeout' expects a whole number of milliseconds from 0 (no timeout) to 2147483647, got -1"],
      [{ 'read-timeout': 2 ** 31 }, "Parameter 'read-timeout' expects a whole number of milliseconds from 0 (no timeout) to 2147483647, got 2147483648"],
    ];
    for (const [args, desc] of errors) assert.deepEqual(await call('migrate-set-parameters', args), { error: { class: 'GenericError', desc } }, JSON.stringify(args));
    const after = (await call('query-migrate-parameters'))['return'] as Record<string, unknown>;
    assert.deepEqual([after['read-timeout'], after['write-timeout']], [1500, 0], 'refused sets changed nothing');
  });

  test('write-timeout: the next migration to a peer that never reads fails after it; refused while running; 0 waits', async () => {
    await hmp.execute('migrate_set_parameter max-bandwidth 0');
    await hmp.execute('migrate_set_parameter write-timeout 0');
    const uri = await peer('stall');
    const waiting = machine.migrate(uri);
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(waiting.migration.status, 'active', 'write-timeout 0: still waiting on the stalled peer');
    assert.match(await hmp.execute('migrate_set_parameter write-timeout 300'), /^Error: 'write-timeout' cannot change while a migration is running$/);
    assert.match(await hmp.execute('migrate_set_parameter read-timeout 300'), /^Error: 'read-timeout' cannot change while a migration is running$/);
    machine.cancel();
    assert.equal(await waiting.done, 'cancelled');

    assert.equal(await hmp.execute('migrate_set_parameter write-timeout 300'), '');
    const start = performance.now();
    const out = await hmp.execute(`migrate ${await peer('stall')}`);
    const ms = performance.now() - start;
    assert.match(out, /^Error: migration failed: .*the peer took no data for 300 ms \(write-timeout\)/);
    assert.ok(ms >= 300 && ms < 5000, `failed after ${Math.round(ms)} ms`);
    assert.equal(guest.status, 'running');
  });

  test('read-timeout: a destination that takes the stream and never confirms fails the migration after it', async () => {
    await hmp.execute('migrate_set_parameter write-timeout 30000');
    await hmp.execute('migrate_set_parameter read-timeout 400');
    const start = performance.now();
    const out = await hmp.execute(`migrate ${await peer('mute')}`);
    const ms = performance.now() - start;
    assert.match(out, /^Error: migration failed: no reply from the destination within 400 ms$/);
    assert.ok(ms >= 400 && ms < 10_000, `failed after ${Math.round(ms)} ms`);
    assert.equal(guest.status, 'running', 'the source guest runs again');
  });
});
