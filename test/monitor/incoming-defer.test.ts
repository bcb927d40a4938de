/**
 * QEMU's -incoming defer: `livemig incoming defer` waits for migrate-incoming (QMP) or
 * migrate_incoming (HMP); after a failed migration a socket destination listens again on its
 * address, and a good migration then completes there.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient } from './qmp-client.js';
import type { Json } from './qmp-client.js';
import { killAll, livemig } from './procs.js';

const dir = mkdtempSync(join(tmpdir(), 'livemig-defer-'));
const clients: QmpClient[] = [];
after(() => {
  for (const c of clients) c.close();
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Sends bytes that are no migration stream to a tcp: address and closes. */
function garbage(uri: string): Promise<void> {
  const [, host, port] = /^tcp:(.+):(\d+)$/.exec(uri)!;
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), host!, () => s.end(Buffer.from('QEVM not a stream at all')));
    s.resume(); // read (and drop) the destination's reply, so that its close is seen
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

test('incoming defer: the URI comes from QMP migrate-incoming; a failed migration is followed by listening again; then one completes', { timeout: 120_000 }, async () => {
  const sock = join(dir, 'qmp.sock');
  const dst = livemig(['incoming', 'defer', '--json', '--monitor', 'none', '--qmp', `unix:${sock}`]);
  await dst.waitLine(/"event":"waiting"/);
  const q = await QmpClient.ready({ path: sock });
  clients.push(q);
  assert.deepEqual(await q.ok('query-status'), { status: 'inmigrate', running: false, singlestep: false });
  assert.match((await q.fails('migrate-incoming', { uri: 'ftp://x' })).desc, /migration protocol/);
  assert.deepEqual(await q.ok('migrate-incoming', { uri: 'tcp:127.0.0.1:0' }), {});
  const first = (JSON.parse(await dst.waitLine(/"event":"listening"/)) as { uri: string }).uri;
  assert.match((await q.fails('migrate-incoming', { uri: 'tcp:127.0.0.1:0' })).desc, /already been started/);
  await garbage(first);
  const failed = JSON.parse(await dst.waitLine(/"event":"failed"/)) as { error: string };
  assert.match(failed.error, /stream version/);
  await q.waitFor((m) => m['event'] === 'MIGRATION' && (m['data'] as Json)['status'] === 'failed', 10_000);
  // listening again, on the same address
  const after = dst.out.findIndex((l) => /"event":"failed"/.test(l)) + 1;
  const again = (JSON.parse(await dst.waitLine(/"event":"listening"/, 'out', after)) as { uri: string }).uri;
  assert.equal(again, first);
  const src = livemig(['run', '--ram', '4M', '--workload', 'stride', '--monitor', 'stdio']);
  assert.deepEqual(await src.ask(`migrate ${again}`), ['Migration status: completed']);
  await dst.waitLine(/"event":"completed"/);
  await q.waitFor((m) => m['event'] === 'RESUME', 10_000);
  assert.deepEqual(await q.ok('query-status'), { status: 'running', running: true, singlestep: false });
  src.send('quit');
  await q.ok('quit');
  assert.equal(await dst.exited, 0);
  assert.equal(await src.exited, 0);
});

test('migrate_incoming is refused on a destination given its URI, and on a source, each saying why', async () => {
  const dst = livemig(['incoming', 'tcp:127.0.0.1:0', '--monitor', 'stdio']);
  await dst.waitLine(/waiting for a migration on/, 'err');
  const out = await dst.ask('migrate_incoming tcp:127.0.0.1:0');
  assert.match(out.join('\n'), /already been started/);
  const src = livemig(['run', '--ram', '4M', '--monitor', 'stdio']);
  assert.match((await src.ask('migrate_incoming tcp:127.0.0.1:0')).join('\n'), /this is a source/);
  dst.send('quit');
  src.send('quit');
  assert.equal(await dst.exited, 0);
  assert.equal(await src.exited, 0);
});
