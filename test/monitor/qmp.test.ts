/**
 * QMP from test clients to real `livemig run` processes, over a unix socket and over tcp
 * 127.0.0.1:0: greeting, negotiation, every command, error classes, malformed JSON, a 2 MiB
 * line, wrong types, commands in the wrong state, two clients receiving MIGRATION events.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient } from './qmp-client.js';
import { DEFAULT_PARAMETERS } from '../../src/migration/index.js';
import { CAPABILITY_NAMES } from '../../src/monitor/index.js';
import type { Json } from './qmp-client.js';
import { killAll, livemig } from './procs.js';
import type { Proc } from './procs.js';

const dir = mkdtempSync(join(tmpdir(), 'livemig-qmp-'));
const clients: QmpClient[] = [];
after(() => {
  for (const c of clients) c.close();
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

async function ready(where: Parameters<typeof QmpClient.connect>[0]): Promise<QmpClient> {
  const c = await QmpClient.ready(where);
  clients.push(c);
  return c;
}
async function connect(where: Parameters<typeof QmpClient.connect>[0]): Promise<QmpClient> {
  const c = await QmpClient.connect(where);
  clients.push(c);
  return c;
}

const status = (s: string) => (m: Json) => m['event'] === 'MIGRATION' && (m['data'] as Json)['status'] === s;

describe('QMP over a unix socket', { timeout: 120_000 }, () => {
  let p: Proc;
  let where: { path: string };
  before(async () => {
    p = livemig(['run', '--ram', '4M', '--workload', 'stride', '--monitor', 'none', '--qmp', `unix:${join(dir, 'qmp.sock')},server,nowait`, '--name', 'guest-a']);
    where = (await p.listening('QMP')) as { path: string };
    assert.equal(where.path, join(dir, 'qmp.sock'));
  });

  test('greeting in QEMU\'s shape, with livemig\'s version', async () => {
    const c = await connect(where);
    const g = await c.waitFor(() => true);
    assert.deepEqual(Object.keys(g), ['QMP']);
    const qmp = g['QMP'] as { version: { qemu: Record<string, number>; package: string }; capabilities: unknown[] };
    assert.deepEqual(Object.keys(qmp.version.qemu).sort(), ['major', 'micro', 'minor']);
    for (const v of Object.values(qmp.version.qemu)) assert.ok(Number.isInteger(v));
    assert.match(qmp.version.package, /^livemig \d+\.\d+\.\d+/);
    assert.deepEqual(qmp.capabilities, []);
  });

  test('negotiation: nothing before qmp_capabilities, which works once; each client negotiates for itself', async () => {
    const c = await connect(where);
    assert.deepEqual(await c.fails('query-status'), { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" });
    assert.deepEqual(await c.fails('frobnicate'), { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" });
    assert.deepEqual(await c.fails('qmp_capabilities', { enable: ['oob'] }), { class: 'GenericError', desc: "Capability 'oob' not available" });
    assert.deepEqual(await c.fails('qmp_capabilities', { enable: 'oob' }), { class: 'GenericError', desc: "Invalid parameter type for 'enable', expected: array" });
    const r = await c.execute('qmp_capabilities', {});
    assert.deepEqual(Object.keys(r), ['return', 'id']);
    assert.deepEqual(r['return'], {});
    assert.deepEqual(await c.fails('qmp_capabilities'), { class: 'CommandNotFound', desc: 'Capabilities negotiation is already complete, command ignored' });
    const other = await connect(where);
    assert.equal((await other.fails('query-status')).class, 'CommandNotFound', 'a second client has not negotiated');
    assert.equal(((await c.ok('query-status')) as Json)['status'], 'running');
  });

  test('ids of any JSON type come back; a command without id gets a reply without id', async () => {
    const c = await ready(where);
    for (const id of ['abc', 0, { a: [1, 2] }, null, true]) {
      c.sendRaw(JSON.stringify({ execute: 'query-status', id }) + '\n');
      const r = await c.next((m) => 'return' in m);
      assert.deepEqual(r['id'], id);
    }
    c.sendRaw('{"execute": "query-status"}\n');
    const r = await c.next((m) => 'return' in m);
    assert.deepEqual(Object.keys(r), ['return']);
  });

  test('malformed input: JSON errors, non-objects, bad members, unknown commands; the client is still served', async () => {
    const c = await ready(where);
    const raw = async (text: string) => {
      const from = c.messages.length;
      c.sendRaw(text);
      return c.waitFor((m) => 'error' in m || 'return' in m, 10_000, from);
    };
    const cases: [string, string, RegExp][] = [
      ['{"execute": }\n', 'GenericError', /^JSON parse error, /],
      ['{"execute": "query-status",}\n', 'GenericError', /^JSON parse error, /],
      ['nonsense\n', 'GenericError', /^JSON parse error, /],
      ['}\n', 'GenericError', /^JSON parse error, /],
      ['{"execute": "query-st\n', 'GenericError', /^JSON parse error, missing closing quote/],
      ['[1, 2]\n', 'GenericError', /^QMP input must be a JSON object$/],
      ['42\n', 'GenericError', /^QMP input must be a JSON object$/],
      ['"query-status"\n', 'GenericError', /^QMP input must be a JSON object$/],
      ['{"id": 5}\n', 'GenericError', /^QMP input lacks member 'execute'$/],
      ['{"execute": 5}\n', 'GenericError', /^QMP input member 'execute' must be a string$/],
      ['{"execute": "query-status", "arguments": [1]}\n', 'GenericError', /^QMP input member 'arguments' must be an object$/],
      ['{"execute": "query-status", "arguments": null}\n', 'GenericError', /^QMP input member 'arguments' must be an object$/],
      ['{"execute": "query-status", "foo": 1}\n', 'GenericError', /^QMP input member 'foo' is unexpected$/],
      ['{"exec-oob": "query-status"}\n', 'GenericError', /^QMP input member 'exec-oob' is unexpected$/],
      ['{"execute": "frobnicate"}\n', 'CommandNotFound', /^The command frobnicate has not been found$/],
      ['{"execute": "__proto__"}\n', 'CommandNotFound', /^The command __proto__ has not been found$/],
      ['{"execute": "constructor"}\n', 'CommandNotFound', /^The command constructor has not been found$/],
      ['{"execute": "query-status", "arguments": {"x": 1}}\n', 'GenericError', /^Parameter 'x' is unexpected$/],
      ['{"execute": "query-status", "arguments": {"__proto__": 1}}\n', 'GenericError', /^Parameter '__proto__' is unexpected$/],
    ];
    for (const [text, cls, re] of cases) {
      const r = await raw(text);
      const e = r['error'] as { class: string; desc: string } | undefined;
      assert.ok(e, `${text.trim()}: ${JSON.stringify(r)}`);
      assert.equal(e.class, cls, text.trim());
      assert.match(e.desc, re, text.trim());
    }
    const withId = await raw('{"execute": "frobnicate", "id": 77}\n');
    assert.equal(withId['id'], 77, 'errors carry the id');
    assert.equal(((await c.ok('query-status')) as Json)['status'], 'running');
  });

  test('a 2 MiB line: one error, then the client is still served', async () => {
    const c = await ready(where);
    const from = c.messages.length;
    c.sendRaw(`{"execute": "human-monitor-command", "arguments": {"command-line": "${'x'.repeat(2 * 1024 * 1024)}"}, "id": "big"}\n`);
    const e = await c.waitFor((m) => 'error' in m, 20_000, from);
    assert.deepEqual(e, { error: { class: 'GenericError', desc: 'JSON parse error, message longer than 1048576 bytes (dropped)' } });
    assert.equal(((await c.ok('query-status')) as Json)['status'], 'running');
    assert.equal(c.messages.slice(from).filter((m) => m['id'] === 'big').length, 0, 'the dropped command did not run');
  });

  test('messages split across chunks and lines, several on one line', async () => {
    const c = await ready(where);
    const from = c.messages.length;
    c.sendRaw('{"execute":');
    await new Promise((r) => setTimeout(r, 50));
    c.sendRaw('\n  "query-status",\n "id": "split"');
    await new Promise((r) => setTimeout(r, 50));
    c.sendRaw('}{"execute": "query-name", "id": "two"}  {"execute": "query-version", "id": "three"}\n');
    const ids = [];
    for (const id of ['split', 'two', 'three']) ids.push((await c.waitFor((m) => m['id'] === id, 10_000, from))['id']);
    assert.deepEqual(ids, ['split', 'two', 'three']);
    assert.deepEqual(c.messages.slice(from).map((m) => m['id']), ['split', 'two', 'three'], 'replies in order');
  });

  test('queries: version, commands, name, status, migrate, capabilities, parameters', async () => {
    const c = await ready(where);
    const v = (await c.ok('query-version')) as Json;
    assert.match(String(v['package']), /^livemig /);
    const names = ((await c.ok('query-commands')) as { name: string }[]).map((x) => x.name);
    for (const n of ['qmp_capabilities', 'query-migrate', 'migrate', 'migrate_cancel', 'migrate-cancel', 'migrate-set-capabilities', 'query-migrate-capabilities', 'migrate-set-parameters', 'query-migrate-parameters', 'query-status', 'stop', 'cont', 'quit', 'human-monitor-command']) {
      assert.ok(names.includes(n), n);
    }
    assert.deepEqual(await c.ok('query-name'), { name: 'guest-a' });
    assert.deepEqual(await c.ok('query-status'), { status: 'running', running: true, singlestep: false });
    assert.deepEqual(await c.ok('query-migrate'), {});
    assert.deepEqual(await c.ok('query-migrate-capabilities'), CAPABILITY_NAMES.map((capability) => ({ capability, state: false })));
    assert.deepEqual(CAPABILITY_NAMES.slice(0, 3), ['xbzrle', 'xbrle', 'events']);
    assert.deepEqual(await c.ok('query-migrate-parameters'), { ...DEFAULT_PARAMETERS });
    const p0 = (await c.ok('query-migrate-parameters')) as Json;
    assert.deepEqual([p0['xbzrle-cache-size'], p0['max-bandwidth'], p0['downtime-limit']], [67108864, 134217728, 300], "QEMU's defaults");
    assert.equal(await c.ok('human-monitor-command', { 'command-line': 'info status' }), 'VM status: running\n');
    assert.equal(await c.ok('human-monitor-command', { 'command-line': 'frobnicate' }), "Error: unknown command: 'frobnicate' (try 'help')\n");
    assert.equal(await c.ok('human-monitor-command', { 'command-line': 'migrate_cancel' }), '');
    assert.deepEqual(await c.fails('human-monitor-command', {}), { class: 'GenericError', desc: "Parameter 'command-line' is missing" });
  });

  test('setting capabilities and parameters: QEMU\'s shapes, typed, all or nothing', async () => {
    const c = await ready(where);
    assert.deepEqual(await c.ok('migrate-set-capabilities', { capabilities: [{ capability: 'xbzrle', state: true }, { capability: 'events', state: true }, { capability: 'auto-converge', state: false }] }), {});
    assert.deepEqual(await c.ok('query-migrate-capabilities'), CAPABILITY_NAMES.map((capability) => ({ capability, state: capability === 'xbzrle' || capability === 'events' })));
    await c.ok('migrate-set-capabilities', { capabilities: [{ capability: 'xbrle', state: true }] });
    assert.equal(((await c.ok('query-migrate-parameters')) as Json)['delta-codec'], 'xbrle');
    await c.ok('migrate-set-capabilities', { capabilities: [{ capability: 'xbzrle', state: false }, { capability: 'events', state: false }] });
    assert.ok(((await c.ok('query-migrate-capabilities')) as { state: boolean }[]).every((x) => !x.state));
    const capErrors: [unknown, string][] = [
      [{}, "Parameter 'capabilities' is missing"],
      [{ capabilities: 'xbzrle' }, "Invalid parameter type for 'capabilities', expected: array"],
      [{ capabilities: [5] }, "Invalid parameter type for 'capabilities[0]', expected: object"],
      [{ capabilities: [{ capability: 'xbzrle' }] }, "Parameter 'capabilities[0].state' is missing"],
      [{ capabilities: [{ capability: 'xbzrle', state: 'on' }] }, "Invalid parameter type for 'capabilities[0].state', expected: boolean"],
      [{ capabilities: [{ capability: 1, state: true }] }, "Invalid parameter type for 'capabilities[0].capability', expected: string"],
      [{ capabilities: [{ capability: 'xbzrle', state: true, x: 1 }] }, "Parameter 'capabilities[0].x' is unexpected"],
      [{ capabilities: [{ capability: 'frobnicate', state: true }] }, `unknown capability 'frobnicate' (known: ${CAPABILITY_NAMES.join(', ')})`],
      [{ capabilities: [{ capability: 'xbzrle', state: true }, { capability: 'multifd', state: true }] }, `capability 'multifd' is not supported by livemig (supported: ${CAPABILITY_NAMES.join(', ')})`],
    ];
    for (const [args, desc] of capErrors) assert.deepEqual(await c.fails('migrate-set-capabilities', args as Json), { class: 'GenericError', desc }, JSON.stringify(args));
    assert.equal(((await c.ok('query-migrate-capabilities')) as { state: boolean }[])[0]!.state, false, 'a refused list changed nothing');

    const all = { 'xbzrle-cache-size': 8388608, 'max-bandwidth': 1048576, 'downtime-limit': 100, 'cache-ways': 1, 'delta-codec': 'xbzrle', 'link-bandwidth': 0, 'max-iterations': 7, 'max-time': 5000, 'stall-policy': 'cancel' };
    assert.deepEqual(await c.ok('migrate-set-parameters', all), {});
    assert.deepEqual(await c.ok('query-migrate-parameters'), { ...DEFAULT_PARAMETERS, ...all });
    const paramErrors: [Json, string][] = [
      [{ 'max-bandwidth': 'fast' }, "Invalid parameter type for 'max-bandwidth', expected: integer"],
      [{ 'max-bandwidth': 1.5 }, "Invalid parameter type for 'max-bandwidth', expected: integer"],
      [{ 'max-bandwidth': null }, "Invalid parameter type for 'max-bandwidth', expected: integer"],
      [{ 'downtime-limit': true }, "Invalid parameter type for 'downtime-limit', expected: integer"],
      [{ 'delta-codec': 1 }, "Invalid parameter type for 'delta-codec', expected: string"],
      [{ 'frobnicate': 1 }, "Parameter 'frobnicate' is unexpected"],
      [{ 'cache-ways': 2, 'max-bandwidth': -1 }, "Parameter 'max-bandwidth' expects a whole number of bytes ≥ 0, got -1"],
      [{ 'cache-ways': 2, 'xbzrle-cache-size': 3000 }, "Parameter 'xbzrle_cache_size' expects a power of two no less than the target page size"],
      [{ 'downtime-limit': 2_000_001 }, "Parameter 'downtime_limit' expects an integer in the range of 0 to (2000 * 1000) ms"],
      [{ 'cache-ways': 65 }, "Parameter 'cache-ways' expects a whole number from 1 to 64, got 65"],
      [{ 'delta-codec': 'gzip' }, "Parameter 'delta-codec' expects xbzrle or xbrle, got gzip"],
      [{ 'stall-policy': 'wait' }, "Parameter 'stall-policy' expects force or cancel, got wait"],
      [{ 'max-cpu-throttle': 100 }, "Parameter 'max_cpu_throttle' expects an integer in the range of 1 to 99"],
      [{ 'max-bandwidth': 2 ** 60 }, `Parameter 'max-bandwidth' expects a whole number of bytes ≥ 0, got ${2 ** 60}`],
    ];
    for (const [args, desc] of paramErrors) assert.deepEqual(await c.fails('migrate-set-parameters', args), { class: 'GenericError', desc }, JSON.stringify(args));
    assert.deepEqual(await c.ok('query-migrate-parameters'), { ...DEFAULT_PARAMETERS, ...all }, 'refused sets changed nothing');
    await c.ok('migrate-set-parameters', { ...DEFAULT_PARAMETERS });
    assert.deepEqual(await c.ok('query-migrate-parameters'), { ...DEFAULT_PARAMETERS });
  });

  test('stop and cont: replies, STOP/RESUME events, query-status', async () => {
    const c = await ready(where);
    const from = c.messages.length;
    assert.deepEqual(await c.ok('stop'), {});
    await c.waitFor((m) => m['event'] === 'STOP', 10_000, from);
    assert.deepEqual(await c.ok('query-status'), { status: 'paused', running: false, singlestep: false });
    assert.deepEqual(await c.ok('stop'), {});
    assert.deepEqual(await c.ok('cont'), {});
    const resume = await c.waitFor((m) => m['event'] === 'RESUME', 10_000, from);
    const ts = resume['timestamp'] as { seconds: number; microseconds: number };
    assert.ok(Number.isInteger(ts.seconds) && Math.abs(ts.seconds - Date.now() / 1000) < 60);
    assert.ok(Number.isInteger(ts.microseconds) && ts.microseconds >= 0 && ts.microseconds < 1e6);
    assert.deepEqual(Object.keys(resume), ['timestamp', 'event']);
    assert.equal(c.messages.slice(from).filter((m) => m['event'] === 'STOP').length, 1, 'stopping a paused guest sends no second STOP');
    assert.deepEqual(await c.ok('query-status'), { status: 'running', running: true, singlestep: false });
  });

  test('a migration seen by two clients: events, wrong-state commands, query-migrate, cancel', async () => {
    const a = await ready(where);
    const b = await ready(where);
    const silentClient = await connect(where); // never negotiates: gets no events
    const fromA = a.messages.length;
    const fromB = b.messages.length;
    await a.ok('migrate-set-parameters', { 'max-bandwidth': 64 * 1024 });
    assert.deepEqual(await a.ok('migrate', { uri: 'exec:cat > /dev/null' }), {}, 'migrate returns at once');
    for (const c of [a, b]) await c.waitFor(status('active'), 10_000, c === a ? fromA : fromB);
    await a.waitFor((m) => m['event'] === 'MIGRATION_PASS', 10_000, fromA);
    assert.deepEqual(await b.fails('migrate', { uri: 'exec:cat > /dev/null' }), { class: 'GenericError', desc: "There's a migration process in progress" });
    assert.deepEqual(await b.fails('migrate-set-capabilities', { capabilities: [{ capability: 'xbzrle', state: true }] }), { class: 'GenericError', desc: "There's a migration process in progress" });
    assert.deepEqual(await b.fails('migrate-set-parameters', { 'cache-ways': 1 }), { class: 'GenericError', desc: "'cache-ways' cannot change while a migration is running" });
    assert.deepEqual(await b.ok('migrate-set-parameters', { 'max-bandwidth': 128 * 1024, 'downtime-limit': 200 }), {});
    const q = (await b.ok('query-migrate')) as Json;
    assert.equal(q['status'], 'active');
    const ram = q['ram'] as Json;
    for (const k of ['transferred', 'remaining', 'total', 'duplicate', 'normal', 'normal-bytes', 'mbps', 'dirty-sync-count', 'pages-per-second']) assert.equal(typeof ram[k], 'number', k);
    assert.equal(ram['total'], 4 * 1024 * 1024);
    assert.equal(typeof q['expected-downtime'], 'number');
    assert.deepEqual(await a.ok('migrate_cancel'), {});
    for (const [c, from] of [[a, fromA], [b, fromB]] as const) {
      await c.waitFor(status('cancelled'), 10_000, from);
      const seen = c.messages.slice(from).filter((m) => m['event'] === 'MIGRATION').map((m) => (m['data'] as Json)['status']);
      assert.deepEqual(seen, ['setup', 'active', 'cancelling', 'cancelled']);
    }
    assert.equal(((await a.ok('query-migrate')) as Json)['status'], 'cancelled');
    assert.deepEqual(await a.ok('migrate-cancel'), {}, 'cancel when idle is harmless');
    assert.deepEqual(await a.ok('query-status'), { status: 'running', running: true, singlestep: false });
    assert.equal(silentClient.messages.length, 1, 'an unnegotiated client got only the greeting');
    await a.ok('migrate-set-parameters', { 'max-bandwidth': 134217728, 'downtime-limit': 300 });
  });

  test('migrate with detach false waits; the source ends paused (postmigrate) with the digest; bad migrate arguments', async () => {
    const c = await ready(where);
    const file = join(dir, 'qmp.mig');
    const from = c.messages.length;
    assert.deepEqual(await c.ok('migrate', { uri: `exec:cat > ${file}`, detach: false, xbzrle: true }, 60_000), {});
    assert.ok(statSync(file).size > 0);
    const q = (await c.ok('query-migrate')) as Json;
    assert.equal(q['status'], 'completed');
    assert.equal(typeof q['downtime'], 'number');
    assert.equal(typeof (q['xbzrle-cache'] as Json)['cache-miss'], 'number', 'xbzrle: true turned delta compression on');
    assert.match(String((q['livemig'] as Json)['ram-digest']), /^[0-9a-f]{32}$/);
    const events = c.messages.slice(from).filter((m) => 'event' in m).map((m) => m['event'] === 'MIGRATION' ? `MIGRATION ${(m['data'] as Json)['status']}` : String(m['event']));
    assert.deepEqual(events.filter((e) => e !== 'MIGRATION_PASS'), ['MIGRATION setup', 'MIGRATION active', 'MIGRATION device', 'STOP', 'MIGRATION completed']);
    assert.deepEqual(await c.ok('query-status'), { status: 'postmigrate', running: false, singlestep: false });
    assert.deepEqual(await c.ok('cont'), {});
    await c.ok('migrate-set-capabilities', { capabilities: [{ capability: 'xbzrle', state: false }] });

    const errs: [Json, RegExp][] = [
      [{}, /^Parameter 'uri' is missing$/],
      [{ uri: 5 }, /^Invalid parameter type for 'uri', expected: string$/],
      [{ uri: 'exec:true', detach: 'yes' }, /^Invalid parameter type for 'detach', expected: boolean$/],
      [{ uri: 'exec:true', speed: 1 }, /^Parameter 'speed' is unexpected$/],
      [{ uri: 'exec:true', blk: true }, /block migration .* not supported/],
      [{ uri: 'exec:true', resume: true }, /postcopy resume is not supported/],
      [{ uri: 'ftp://x' }, /^Parameter 'uri' expects a valid migration protocol/],
      [{ uri: 'unix:/nonexistent/x.sock', detach: false }, /^migration failed: /],
    ];
    for (const [args, re] of errs) {
      const e = await c.fails('migrate', args);
      assert.equal(e.class, 'GenericError');
      assert.match(e.desc, re, JSON.stringify(args));
    }
    assert.equal(((await c.ok('query-migrate')) as Json)['status'], 'failed');
  });

  test('no NaN or Infinity anywhere in what was sent (JSON.parse would have failed), and no null for one', () => {
    const walk = (v: unknown, key: string): void => {
      if (v === null) assert.equal(key, 'id', 'null only as an id the client sent');
      else if (typeof v === 'number') assert.ok(Number.isFinite(v));
      else if (typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
    };
    let n = 0;
    for (const c of clients) for (const m of c.messages) (walk(m, ''), n++);
    assert.ok(n > 100);
  });

  test('quit: the reply, SHUTDOWN, then the process exits 0 and removes its socket', async () => {
    const a = await ready(where);
    const b = await ready(where);
    const from = b.messages.length;
    assert.deepEqual(await a.ok('quit'), {});
    const shutdown = await b.waitFor((m) => m['event'] === 'SHUTDOWN', 10_000, from);
    assert.deepEqual(shutdown['data'], { guest: false, reason: 'host-qmp-quit' });
    await a.closed;
    assert.equal(await p.exited, 0);
    assert.throws(() => statSync(where.path), { code: 'ENOENT' });
  });
});

describe('QMP over tcp 127.0.0.1:0, with an HMP socket beside it', { timeout: 60_000 }, () => {
  test('the real port is printed; QMP and HMP sessions at once; quit from HMP ends both', async () => {
    const hmpPath = join(dir, 'hmp.sock');
    const p = livemig(['run', '--ram', '4M', '--monitor', `unix:${hmpPath}`, '--qmp', 'tcp:127.0.0.1:0']);
    const where = (await p.listening('QMP')) as { host: string; port: number };
    assert.equal(where.host, '127.0.0.1');
    assert.ok(where.port > 0);
    const c = await ready(where);
    assert.deepEqual(await c.ok('query-status'), { status: 'running', running: true, singlestep: false });
    await p.listening('monitor');
    const h = await QmpClient.connect({ path: hmpPath }); // used as a raw socket here
    clients.push(h);
    let text = '';
    h.socket.removeAllListeners('data');
    h.socket.on('data', (d: string) => (text += d));
    const until = async (re: RegExp) => {
      for (let i = 0; i < 200 && !re.test(text); i++) await new Promise((r) => setTimeout(r, 25));
      assert.match(text, re);
    };
    await until(/^livemig \S+ monitor - type 'help' for more information\n\(livemig\) $/);
    h.sendRaw('info status\n');
    await until(/VM status: running\n\(livemig\) $/);
    h.sendRaw('stop\n');
    await c.waitFor((m) => m['event'] === 'STOP');
    h.sendRaw('frobnicate\n');
    await until(/Error: unknown command: 'frobnicate' \(try 'help'\)\n\(livemig\) $/);
    h.sendRaw('quit\n');
    await c.waitFor((m) => m['event'] === 'SHUTDOWN');
    assert.equal(await p.exited, 0);
    await c.closed;
  });
});
