/**
 * End to end: a running guest migrated between two real livemig processes over real
 * sockets, pipes and files; the destination verifies the RAM digest, checks the stride
 * pattern, resumes the workload and reports.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInfo, startDestination, startSource, stopAll } from '../helpers/processes.js';
import type { Destination, Source } from '../helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'livemig-e2e-'));
after(() => {
  stopAll();
  rmSync(dir, { recursive: true, force: true });
});

async function migrateAndCheck(src: Source, dst: Destination, uri: string, setup: string[] = []): Promise<{ info: Map<string, string>; done: Record<string, unknown> }> {
  for (const c of setup) assert.deepEqual(await src.ask(c), [], `${c} printed an error`);
  const out = await src.ask(`migrate ${uri}`);
  assert.deepEqual(out, ['Migration status: completed'], `migrate output: ${out.join('\n')}`);
  const info = parseInfo(await src.ask('info migrate'));
  const done = await dst.waitFor('completed');
  const incoming = done['incoming'] as Record<string, unknown>;
  assert.equal(info.get('ram digest (page128)'), incoming['ram-digest'], 'source and destination digests');
  assert.equal(info.get('destination ram digest (page128)'), incoming['ram-digest']);
  assert.match(String(incoming['ram-digest']), /^[0-9a-f]{32}$/);
  return { info, done };
}

/**
 * Asks `info migrate` until the migration has left `setup`; returns its status then (a state,
 * not a time: a slow machine only takes more questions; the test's timeout bounds them).
 */
async function statusAfterSetup(src: Source): Promise<string> {
  for (;;) {
    const status = parseInfo(await src.ask('info migrate')).get('Migration status') ?? '';
    if (status !== 'setup' && status !== '') return status;
  }
}

async function ranOnDestination(dst: Destination, workload: string): Promise<void> {
  const ran = await dst.waitFor('ran');
  assert.ok(Number(ran['workDone']) > 0, 'the workload kept running on the destination');
  if (workload === 'stride') assert.equal((ran['strideCheck'] as { ok: boolean }).ok, true, JSON.stringify(ran['strideCheck']));
  assert.equal(await dst.exited, 0);
}

describe('live migration between two processes', { timeout: 120_000 }, () => {
  test('stride over tcp with XBZRLE: digests equal, stride consistent, workload resumes', async () => {
    const dst = startDestination('tcp:127.0.0.1:0', ['--exit-after', '300']);
    const uri = String((await dst.waitFor('listening'))['uri']);
    const src = startSource(['--ram', '8M', '--workload', 'stride']);
    const { info, done } = await migrateAndCheck(src, dst, uri, ['migrate_set_capability xbzrle on', 'migrate_set_parameter xbzrle-cache-size 4M']);
    assert.equal(((done['incoming'] as Record<string, unknown>)['stride-check'] as { ok: boolean }).ok, true);
    assert.ok(info.has('xbzrle pages'), 'info migrate shows the XBZRLE block');
    assert.ok(info.has('cache-miss ram-xbrle'), "info migrate shows the seed's lines");
    await ranOnDestination(dst, 'stride');
    src.send('quit');
    assert.equal(await src.exited, 0);
  });

  test('seed workload over unix without delta compression', async () => {
    const path = join(dir, 'mig.sock');
    const dst = startDestination(`unix:${path}`, ['--exit-after', '200']);
    await dst.waitFor('listening');
    const src = startSource(['--ram', '8M', '--workload', 'seed', '--vcpus', '2']);
    const { info } = await migrateAndCheck(src, dst, `unix:${path}`, ['migrate_set_speed 0']);
    assert.equal(info.has('xbzrle pages'), false);
    await ranOnDestination(dst, 'seed');
    src.send('quit');
  });

  test('random workload over tcp with the seed\'s XBRLE codec', async () => {
    const dst = startDestination('tcp:127.0.0.1:0', ['--exit-after', '200']);
    const uri = String((await dst.waitFor('listening'))['uri']);
    const src = startSource(['--ram', '8M', '--workload', 'random']);
    const { info } = await migrateAndCheck(src, dst, uri, ['migrate_set_capability xbrle on', 'migrate_set_parameter max-bandwidth 0']);
    assert.ok(info.has('xbzrle overflow'));
    await ranOnDestination(dst, 'random');
    src.send('quit');
  });

  test('exec: to a file, then file: and exec: on the incoming side', async () => {
    const file = join(dir, 'stride.mig');
    const src = startSource(['--ram', '4M', '--workload', 'stride']);
    assert.deepEqual(await src.ask('migrate_set_capability xbzrle on'), []);
    assert.deepEqual(await src.ask(`migrate "exec:cat > ${file}"`), ['Migration status: completed']);
    const digest = parseInfo(await src.ask('info migrate')).get('ram digest (page128)');
    assert.ok(statSync(file).size > 0);
    for (const uri of [`file:${file}`, `exec:cat ${file}`]) {
      const dst = startDestination(uri, ['--exit-after', '100']);
      const done = await dst.waitFor('completed');
      assert.equal((done['incoming'] as Record<string, unknown>)['ram-digest'], digest, uri);
      await ranOnDestination(dst, 'stride');
    }
    src.send('quit');
  });

  test('cancel leaves the source running; a second migration then completes', async () => {
    const dst1 = startDestination('tcp:127.0.0.1:0');
    const uri1 = String((await dst1.waitFor('listening'))['uri']);
    const src = startSource(['--ram', '16M', '--workload', 'stride']);
    assert.deepEqual(await src.ask('migrate_set_speed 2m'), []);
    assert.deepEqual(await src.ask(`migrate -d ${uri1}`), []);
    // 16 MiB at 2 MiB/s: at least 8 s active, whatever the machine's load
    assert.equal(await statusAfterSetup(src), 'active');
    const mark = src.lines.length;
    await src.ask('migrate_cancel');
    await src.waitLine(/^Migration status: cancelled/, 10_000, mark);
    assert.equal(parseInfo(await src.ask('info migrate')).get('Migration status'), 'cancelled');
    assert.deepEqual(await src.ask('info status'), ['VM status: running']);
    await dst1.waitFor('failed');
    const dst2 = startDestination('tcp:127.0.0.1:0', ['--exit-after', '100']);
    const uri2 = String((await dst2.waitFor('listening'))['uri']);
    await migrateAndCheck(src, dst2, uri2, ['migrate_set_speed 0']);
    await ranOnDestination(dst2, 'stride');
    src.send('quit');
  });

  test('a killed destination fails the migration; the source runs on and migrates again', async () => {
    const dst1 = startDestination('tcp:127.0.0.1:0');
    const uri1 = String((await dst1.waitFor('listening'))['uri']);
    const src = startSource(['--ram', '16M', '--workload', 'stride']);
    assert.deepEqual(await src.ask('migrate_set_speed 2m'), []);
    assert.deepEqual(await src.ask(`migrate -d ${uri1}`), []);
    assert.equal(await statusAfterSetup(src), 'active');
    dst1.proc.kill('SIGKILL');
    await src.waitLine(/^Error: migration failed: /);
    const failed = parseInfo(await src.ask('info migrate'));
    assert.match(failed.get('Migration status') ?? '', /^failed \(.+\)$/);
    assert.deepEqual(await src.ask('info status'), ['VM status: running']);
    const dst2 = startDestination('tcp:127.0.0.1:0', ['--exit-after', '100']);
    const uri2 = String((await dst2.waitFor('listening'))['uri']);
    const { done } = await migrateAndCheck(src, dst2, uri2, ['migrate_set_speed 0']);
    assert.equal(((done['incoming'] as Record<string, unknown>)['stride-check'] as { ok: boolean }).ok, true);
    await ranOnDestination(dst2, 'stride');
    src.send('quit');
  });
});
