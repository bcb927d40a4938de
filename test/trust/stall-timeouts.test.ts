/**
 * A slow or stalled peer cannot hang either side, and the timeouts are set where an operator
 * works: the source's monitor (`migrate_set_parameter write-timeout MS`) and the destination's
 * command line (`livemig incoming --read-timeout MS`).
 *
 * - A peer that accepts the connection and never reads: with write-timeout 500 the source's
 *   migration fails within about that time with an error naming the timeout, its guest keeps
 *   running, and the next migration, to a real destination, completes with equal digests.
 * - A source that connects and sends nothing: `livemig incoming --read-timeout 500` fails
 *   within about that time, says which timeout ran out, and exits 1.
 * - Bad flag values are refused before anything listens.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { CLI, parseInfo, startDestination, startSource, stopAll } from '../helpers/processes.js';

const held: Socket[] = [];
const servers: Server[] = [];
after(async () => {
  stopAll();
  for (const s of held) s.destroy();
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
});

/** A tcp listener on 127.0.0.1 that accepts connections and never reads from them. */
async function stalledPeer(): Promise<string> {
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.pause();
    held.push(s);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `tcp:127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('stall timeouts end to end', { timeout: 90_000 }, () => {
  test('source: write-timeout set in the monitor fails a migration to a peer that stopped reading; the next one completes', async () => {
    // 32 MiB of non-zero pages (stride writes byte 0 of each) is several times what loopback
    // socket buffers hold, once the guest has written them: on a loaded machine its vCPU thread
    // may have written few when the migration runs, and then the whole stream fits in the
    // buffers and the source waits for a reply that never comes: read-timeout ends that wait
    const src = startSource(['--ram', '32M', '--workload', 'stride']);
    assert.deepEqual(await src.ask('migrate_set_parameter write-timeout 500'), []);
    assert.deepEqual(await src.ask('migrate_set_parameter read-timeout 1000'), []);
    assert.equal(parseInfo(await src.ask('info migrate_parameters')).get('write-timeout'), '500 ms');
    const start = performance.now();
    const out = await src.ask(`migrate ${await stalledPeer()}`);
    const ms = performance.now() - start;
    assert.equal(out.length, 1, out.join('\n'));
    const stalled = /^Error: migration failed: tcp:127\.0\.0\.1:\d+: .*the peer took no data for 500 ms \(write-timeout\); \d+ bytes wait to be sent$/;
    const unanswered = /^Error: migration failed: no reply from the destination within 1000 ms$/;
    assert.ok(stalled.test(out[0]!) || unanswered.test(out[0]!), out[0]);
    assert.ok(ms >= 500 && ms < 5000, `failed after ${Math.round(ms)} ms`);
    assert.match(parseInfo(await src.ask('info migrate')).get('Migration status') ?? '', /^failed \((.*took no data for 500 ms|no reply from the destination within 1000 ms)/);
    assert.deepEqual(await src.ask('info status'), ['VM status: running'], 'the source guest keeps running');

    const dst = startDestination('tcp:127.0.0.1:0');
    const uri = String((await dst.waitFor('listening'))['uri']);
    assert.deepEqual(await src.ask(`migrate ${uri}`), ['Migration status: completed']);
    const done = await dst.waitFor('completed');
    const digest = parseInfo(await src.ask('info migrate')).get('ram digest (page128)');
    assert.match(digest ?? '', /^[0-9a-f]{32}$/);
    assert.equal((done['incoming'] as Record<string, unknown>)['ram-digest'], digest);
    src.send('quit');
    assert.equal(await src.exited, 0);
    assert.equal(await dst.exited, 0);
  });

  test('destination: --read-timeout fails a source that connects and sends nothing', async () => {
    const dst = startDestination('tcp:127.0.0.1:0', ['--read-timeout', '500']);
    const [host, port] = String((await dst.waitFor('listening'))['uri']).slice(4).split(':');
    const silent = connect({ host: host!, port: Number(port) });
    silent.on('error', () => undefined);
    held.push(silent);
    await new Promise((r) => silent.once('connect', r));
    const start = performance.now();
    const failed = await dst.waitFor('failed', 10_000);
    const ms = performance.now() - start;
    assert.match(String(failed['error']), /^tcp:127\.0\.0\.1:\d+: tcp 127\.0\.0\.1:\d+ <- 127\.0\.0\.1:\d+: no data from the peer for 500 ms \(readTimeoutMs\)$/);
    assert.ok(ms >= 490 && ms < 3000, `failed after ${Math.round(ms)} ms`);
    assert.equal(await dst.exited, 1);
    assert.ok(dst.stderr.some((l) => /^livemig: incoming migration failed: .*no data from the peer for 500 ms .*\(stall timeouts: --read-timeout 500 ms, --write-timeout 30000 ms\)$/.test(l)), dst.stderr.join('\n'));
  });

  test('destination: bad --read-timeout / --write-timeout values are refused with the flag named', () => {
    const cases: [string[], RegExp][] = [
      [['--read-timeout', '-5'], /--read-timeout must be a whole number from 0 to 2147483647, got '-5'/],
      [['--read-timeout', '1.5s'], /--read-timeout must be a whole number from 0 to 2147483647, got '1\.5s'/],
      [['--write-timeout', '2147483648'], /--write-timeout must be a whole number from 0 to 2147483647, got '2147483648'/],
    ];
    for (const [args, re] of cases) {
      const r = spawnSync(process.execPath, [CLI, 'incoming', 'tcp:127.0.0.1:0', '--monitor', 'none', ...args], { encoding: 'utf8', timeout: 10_000 });
      assert.notEqual(r.status, 0, args.join(' '));
      assert.match(r.stderr, re, args.join(' '));
    }
    const help = spawnSync(process.execPath, [CLI, 'incoming', '--help'], { encoding: 'utf8', timeout: 10_000 });
    assert.match(help.stdout, /--read-timeout <ms>[\s\S]*0 = no timeout\s+\(default: 60000\)/);
    assert.match(help.stdout, /--write-timeout <ms>[\s\S]*0 = no timeout\s+\(default: 30000\)/);
  });
});
