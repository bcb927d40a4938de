/**
 * End to end with a real machine: an x86 PC emulated by v86, booting one of livemig's
 * boot-sector guests, migrated between two livemig processes over tcp. The destination
 * builds the PC from the stream alone, checks the RAM digest and the guest's pattern, and the
 * guest's COM1 markers go on there; a cancel or a killed destination leaves the source PC
 * running (its markers go on).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_BIOS_PATH, PASS_MARKER, countMarkers, floppyImage } from '../../src/guest/index.js';
import { parseInfo, startDestination, startSource, stopAll } from '../helpers/processes.js';
import type { Source } from '../helpers/processes.js';
import { requirement } from '../helpers/requirements.js';

const dir = mkdtempSync(join(tmpdir(), 'livemig-pc-'));
after(() => {
  stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const needsBios = requirement('SeaBIOS (bios.bin)', existsSync(DEFAULT_BIOS_PATH), 'apt-get install -y seabios');

/** Markers a serial file holds now. */
function markers(file: string): number {
  return existsSync(file) ? countMarkers(readFileSync(file), PASS_MARKER) : 0;
}

/** Resolves once the serial file holds more than `than` pass markers (the guest ran on). */
async function markersPass(file: string, than: number, ms = 60_000): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const n = markers(file);
    if (n > than) return n;
    if (Date.now() > deadline) throw new Error(`${file}: still ${n} pass markers after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function pcSource(image: string, serial: string): Source {
  return startSource(['--machine', 'pc', '--boot-sector', image, '--ram', '32M', '--serial', `file:${serial}`]);
}

describe('an x86 PC (v86) migrated live between two processes', { ...needsBios, timeout: 180_000 }, () => {
  for (const [image, xbzrle] of [['stride', true], ['load2011', false]] as const) {
    test(`${image} boot sector over tcp ${xbzrle ? 'with' : 'without'} XBZRLE: digests equal, pattern consistent, markers go on`, async () => {
      const srcSerial = join(dir, `${image}-src.txt`);
      const dstSerial = join(dir, `${image}-dst.txt`);
      const dst = startDestination('tcp:127.0.0.1:0', ['--exit-after', '500', '--serial', `file:${dstSerial}`]);
      const uri = String((await dst.waitFor('listening'))['uri']);
      const src = pcSource(image, srcSerial);
      await markersPass(srcSerial, 3); // booted, and a few passes done
      if (xbzrle) assert.deepEqual(await src.ask('migrate_set_capability xbzrle on'), []);
      assert.deepEqual(await src.ask(`migrate ${uri}`), ['Migration status: completed']);
      const info = parseInfo(await src.ask('info migrate'));
      const done = await dst.waitFor('completed');
      const incoming = done['incoming'] as Record<string, unknown>;
      assert.equal(incoming['machine'], 'pc', 'the destination built a PC');
      assert.equal(info.get('ram digest (page128)'), incoming['ram-digest']);
      assert.equal(info.has('xbzrle pages'), xbzrle);
      const check = incoming['pattern-check'] as { ok: boolean; message: string; image: string };
      assert.equal(check.image, image);
      assert.equal(check.ok, true, check.message);
      assert.deepEqual(await src.ask('info status'), ['VM status: paused (postmigrate)']);
      const ran = await dst.waitFor('ran');
      assert.equal((ran['patternCheck'] as { ok: boolean }).ok, true, JSON.stringify(ran['patternCheck']));
      assert.ok(Number(ran['workDone']) > 0, 'the PC ran on the destination');
      assert.ok(markers(dstSerial) > 0, 'COM1 markers continue on the destination');
      assert.equal(await dst.exited, 0);
      src.send('quit');
      assert.equal(await src.exited, 0);
    });
  }

  test('a destination without a disk the guest needs names it and fails; the source PC runs on; stop and cont', async () => {
    // a 512 KiB disk: too large to travel inside the configuration, so the destination must find it
    const disk = join(dir, 'disk.img');
    const image = new Uint8Array(512 * 1024);
    image.set(floppyImage('stride').subarray(0, 512));
    writeFileSync(disk, image);
    const srcSerial = join(dir, 'disk-src.txt');
    const src = startSource(['--machine', 'pc', '--hda', disk, '--ram', '32M', '--serial', `file:${srcSerial}`]);
    await markersPass(srcSerial, 3);
    renameSync(disk, `${disk}.elsewhere`);
    const dst = startDestination('tcp:127.0.0.1:0');
    const out = await src.ask(`migrate ${String((await dst.waitFor('listening'))['uri'])}`);
    assert.match(out.join('\n'), /migration failed: destination failed: the guest's hda \(disk\.img, 524288 bytes, sha256 [0-9a-f]{16}…\) is not at .*disk\.img on this host/);
    const failed = await dst.waitFor('failed');
    assert.match(String(failed['error']), /the guest's hda \(disk\.img/);
    assert.ok((await src.ask('info status')).includes('VM status: running'));
    await markersPass(srcSerial, markers(srcSerial));
    assert.deepEqual(await src.ask('stop'), []);
    assert.ok((await src.ask('info status')).includes('VM status: paused'));
    const stopped = markers(srcSerial);
    assert.deepEqual(await src.ask('cont'), []);
    await markersPass(srcSerial, stopped);
    src.send('quit');
    assert.equal(await src.exited, 0);
  });

  test('a cancel in the middle, then a killed destination: the source PC runs on each time', async () => {
    const srcSerial = join(dir, 'cancel-src.txt');
    const src = pcSource('stride', srcSerial);
    await markersPass(srcSerial, 3);
    // slow enough that the migration is surely still running when it is cancelled or killed
    assert.deepEqual(await src.ask('migrate_set_speed 2m'), []);
    const dst1 = startDestination('tcp:127.0.0.1:0');
    assert.deepEqual(await src.ask(`migrate -d ${String((await dst1.waitFor('listening'))['uri'])}`), []);
    await waitStatus(src, 'active');
    src.send('migrate_cancel');
    await waitStatus(src, 'cancelled');
    assert.ok((await src.ask('info status')).includes('VM status: running'));
    await markersPass(srcSerial, markers(srcSerial));
    const dst2 = startDestination('tcp:127.0.0.1:0');
    assert.deepEqual(await src.ask(`migrate -d ${String((await dst2.waitFor('listening'))['uri'])}`), []);
    await waitStatus(src, 'active');
    dst2.proc.kill('SIGKILL');
    await waitStatus(src, 'failed');
    assert.ok((await src.ask('info status')).includes('VM status: running'));
    await markersPass(srcSerial, markers(srcSerial));
    src.send('quit');
    assert.equal(await src.exited, 0);
  });
});

/** Asks `info migrate` until the migration's status is `want`. */
async function waitStatus(src: Source, want: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const status = parseInfo(await src.ask('info migrate')).get('Migration status')?.split(' ')[0];
    if (status === want) return;
    if (Date.now() > deadline) throw new Error(`migration status still ${status}, not ${want}, after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
