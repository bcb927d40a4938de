/**
 * A whole migration driven only over QMP: a `livemig run` source and a `livemig incoming`
 * destination, each with its own `--qmp`; MIGRATION events on both sides, query-migrate
 * completed with equal RAM digests, the guest running on the destination.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient } from './qmp-client.js';
import type { Json } from './qmp-client.js';
import { killAll, livemig } from './procs.js';
import { DEFAULT_BIOS_PATH, PASS_MARKER, countMarkers } from '../../src/guest/index.js';
import { requirement } from '../helpers/requirements.js';

const dir = mkdtempSync(join(tmpdir(), 'livemig-qmpmig-'));
const clients: QmpClient[] = [];
after(() => {
  for (const c of clients) c.close();
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

const migrationStatuses = (c: QmpClient) => c.messages.filter((m) => m['event'] === 'MIGRATION').map((m) => (m['data'] as Json)['status']);

test('source and destination driven over QMP only: events, query-migrate on both sides, digests equal', { timeout: 120_000 }, async () => {
  const dstSock = join(dir, 'dst-qmp.sock');
  const dst = livemig(['incoming', 'tcp:127.0.0.1:0', '--json', '--monitor', 'none', '--qmp', `unix:${dstSock}`]);
  const uri = (JSON.parse(await dst.waitLine(/"event":"listening"/)) as { uri: string }).uri;
  const d = await QmpClient.ready({ path: dstSock });
  clients.push(d);
  assert.deepEqual(await d.ok('query-migrate'), {});
  assert.deepEqual(await d.ok('query-status'), { status: 'inmigrate', running: false, singlestep: false });
  assert.match((await d.fails('query-migrate-capabilities')).desc, /this is a destination/);
  assert.match((await d.fails('migrate', { uri: 'exec:cat > /dev/null' })).desc, /this is a destination/);
  assert.match((await d.fails('cont')).desc, /no guest is running here yet/);
  assert.deepEqual(await d.ok('migrate_cancel'), {});

  const src = livemig(['run', '--ram', '8M', '--workload', 'stride', '--monitor', 'none', '--qmp', 'tcp:127.0.0.1:0']);
  const where = await src.listening('QMP');
  const s1 = await QmpClient.ready(where);
  const s2 = await QmpClient.ready(where);
  clients.push(s1, s2);
  await s1.ok('migrate-set-capabilities', { capabilities: [{ capability: 'xbzrle', state: true }, { capability: 'events', state: true }] });
  await s1.ok('migrate-set-parameters', { 'xbzrle-cache-size': 4 * 1024 * 1024, 'max-bandwidth': 0 });
  assert.deepEqual(await s1.ok('migrate', { uri }), {});
  for (const c of [s1, s2]) await c.waitFor((m) => m['event'] === 'MIGRATION' && (m['data'] as Json)['status'] === 'completed', 60_000);
  for (const c of [s1, s2]) {
    assert.deepEqual(migrationStatuses(c), ['setup', 'active', 'device', 'completed']);
    assert.ok(c.events('MIGRATION_PASS').length >= 1);
    assert.deepEqual(c.events('MIGRATION_PASS').map((e) => (e['data'] as Json)['pass']), c.events('MIGRATION_PASS').map((_, i) => i + 1), 'passes count up from 1');
    assert.equal(c.events('STOP').length, 1);
  }
  const q = (await s2.ok('query-migrate')) as Json;
  assert.equal(q['status'], 'completed');
  assert.equal(((q['ram'] as Json)['total']), 8 * 1024 * 1024);
  assert.equal(typeof (q['xbzrle-cache'] as Json)['pages'], 'number');
  const lm = q['livemig'] as Json;
  assert.match(String(lm['ram-digest']), /^[0-9a-f]{32}$/);
  assert.equal(lm['destination-digest'], lm['ram-digest']);
  assert.deepEqual(await s1.ok('query-status'), { status: 'postmigrate', running: false, singlestep: false });

  await d.waitFor((m) => m['event'] === 'MIGRATION' && (m['data'] as Json)['status'] === 'completed', 30_000);
  await d.waitFor((m) => m['event'] === 'RESUME', 10_000);
  assert.deepEqual(migrationStatuses(d), ['active', 'completed']);
  const dq = (await d.ok('query-migrate')) as Json;
  assert.equal(dq['status'], 'completed');
  const inc = dq['incoming'] as Json;
  assert.equal(inc['ram-digest'], lm['ram-digest']);
  assert.equal(inc['source-digest'], lm['ram-digest']);
  assert.deepEqual(await d.ok('query-status'), { status: 'running', running: true, singlestep: false });
  assert.equal(await d.ok('human-monitor-command', { 'command-line': 'info status' }), 'VM status: running\n');
  assert.match(String(await d.ok('human-monitor-command', { 'command-line': 'info migrate' })), /^Migration status: completed\n/);
  await dst.waitLine(/"event":"completed"/);
  await d.ok('quit');
  assert.equal(await dst.exited, 0);

  await s1.ok('quit');
  assert.equal(await src.exited, 0);
});

test('quit over QMP on a destination still waiting: exits 0 at once, socket removed', { timeout: 30_000 }, async () => {
  const sock = join(dir, 'wait-qmp.sock');
  const p = livemig(['incoming', 'tcp:127.0.0.1:0', '--monitor', 'none', '--qmp', `unix:${sock}`]);
  await p.waitLine(/waiting for a migration/, 'err');
  const c = await QmpClient.ready({ path: sock });
  clients.push(c);
  assert.deepEqual(await c.ok('quit'), {});
  assert.equal(await p.exited, 0);
  assert.throws(() => statSync(sock), { code: 'ENOENT' });
});

test('quit over QMP ends a process whose stdio monitor still waits for input', { timeout: 30_000 }, async () => {
  const sock = join(dir, 'stdio-qmp.sock');
  const p = livemig(['run', '--ram', '4M', '--monitor', 'stdio', '--qmp', `unix:${sock}`]);
  const c = await QmpClient.ready((await p.listening('QMP')) as { path: string });
  clients.push(c);
  p.send('info status');
  await p.waitLine(/^VM status: running$/);
  assert.deepEqual(await c.ok('quit'), {});
  assert.equal(await p.exited, 0);
});

test('a QMP socket left by a killed process is replaced; a live one is not taken over', { timeout: 30_000 }, async () => {
  const sock = join(dir, 'stale-qmp.sock');
  const first = livemig(['run', '--ram', '4M', '--monitor', 'none', '--qmp', `unix:${sock}`]);
  await first.listening('QMP');
  const busy = livemig(['run', '--ram', '4M', '--monitor', 'none', '--qmp', `unix:${sock}`]);
  assert.notEqual(await busy.exited, 0);
  assert.ok(busy.err.some((l) => l.includes(`another process is listening on ${sock}`)), busy.err.join('\n'));
  first.proc.kill('SIGKILL');
  await first.exited;
  assert.ok(statSync(sock).isSocket(), 'SIGKILL left the socket file behind');
  const second = livemig(['run', '--ram', '4M', '--monitor', 'none', '--qmp', `unix:${sock}`]);
  const c = await QmpClient.ready((await second.listening('QMP')) as { path: string });
  clients.push(c);
  assert.equal(((await c.ok('query-status')) as Json)['status'], 'running');
  second.proc.kill('SIGTERM'); // SIGTERM quits cleanly, like `quit`
  assert.equal(await second.exited, 0);
  assert.throws(() => statSync(sock), { code: 'ENOENT' });
});

test('a PC (v86) driven over QMP: query-status, stop and cont with their events, a migration to a destination that builds the PC', { ...requirement('SeaBIOS (bios.bin)', existsSync(DEFAULT_BIOS_PATH), 'apt-get install -y seabios'), timeout: 120_000 }, async () => {
  const dstSock = join(dir, 'pc-dst-qmp.sock');
  const dst = livemig(['incoming', 'tcp:127.0.0.1:0', '--json', '--monitor', 'none', '--qmp', `unix:${dstSock}`]);
  const uri = (JSON.parse(await dst.waitLine(/"event":"listening"/)) as { uri: string }).uri;
  const d = await QmpClient.ready({ path: dstSock });
  const serial = join(dir, 'pc-src-serial.txt');
  const src = livemig(['run', '--machine', 'pc', '--boot-sector', 'stride', '--ram', '16M', '--monitor', 'none', '--qmp', 'tcp:127.0.0.1:0', '--serial', `file:${serial}`]);
  const s = await QmpClient.ready(await src.listening('QMP'));
  clients.push(d, s);
  // The stride pattern exists once the boot sector has zeroed its region (its first pass
  // marker): before, SeaBIOS's tables lie at the top of RAM, inside the region the guest
  // claims, and a migration that fast would carry them where the check expects the pattern.
  for (const deadline = Date.now() + 60_000; !(existsSync(serial) && countMarkers(readFileSync(serial), PASS_MARKER) > 0); ) {
    if (Date.now() > deadline) throw new Error('the stride guest wrote no pass marker in 60 s');
    // a poll of a state, not a wait for time: the marker is written by another process into a
    // file, which gives no event this process could await
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(await s.ok('query-status'), { status: 'running', running: true, singlestep: false });
  await s.ok('stop');
  await s.waitFor((m) => m['event'] === 'STOP', 10_000);
  assert.deepEqual(await s.ok('query-status'), { status: 'paused', running: false, singlestep: false });
  await s.ok('cont');
  await s.waitFor((m) => m['event'] === 'RESUME', 10_000);
  await s.ok('migrate-set-capabilities', { capabilities: [{ capability: 'xbzrle', state: true }] });
  assert.deepEqual(await s.ok('migrate', { uri }), {});
  await s.waitFor((m) => m['event'] === 'MIGRATION' && (m['data'] as Json)['status'] === 'completed', 60_000);
  assert.deepEqual(await s.ok('query-status'), { status: 'postmigrate', running: false, singlestep: false });
  await d.waitFor((m) => m['event'] === 'RESUME', 30_000);
  const inc = ((await d.ok('query-migrate')) as Json)['incoming'] as Json;
  assert.equal(inc['machine'], 'pc');
  assert.equal((inc['pattern-check'] as Json)['ok'], true, JSON.stringify(inc['pattern-check']));
  assert.deepEqual(await d.ok('query-status'), { status: 'running', running: true, singlestep: false });
  await d.ok('quit');
  await s.ok('quit');
  assert.equal(await dst.exited, 0);
  assert.equal(await src.exited, 0);
});
