/**
 * A real Linux, live: the guest of scripts/linux-guest.sh (Debian's i386 kernel, busybox, a
 * memory writer that dirties 16 MiB, checks it and prints `livemig-counter N` every second)
 * booted in a v86 PC and migrated between two livemig processes over tcp with XBZRLE. Its
 * counter goes on at the destination with no reboot and no page found stale.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_BIOS_PATH } from '../../src/guest/index.js';
import { LINUX_GUEST_CORRUPTION_LINE, defaultLinuxGuestDir, readLinuxGuestManifest } from '../../src/guest/pc/initramfs.js';
import { parseInfo, startDestination, startSource, stopAll } from '../helpers/processes.js';
import { requirement } from '../helpers/requirements.js';

const dir = mkdtempSync(join(tmpdir(), 'livemig-linux-'));
after(() => {
  stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const guestDir = defaultLinuxGuestDir();
const manifest = readLinuxGuestManifest(guestDir);
const needs = existsSync(DEFAULT_BIOS_PATH)
  ? requirement('the Linux guest', manifest !== undefined, `bash scripts/linux-guest.sh (builds it into ${guestDir})`)
  : requirement('SeaBIOS (bios.bin)', false, 'apt-get install -y seabios');

/** The counters a serial file holds now, in order. */
function counters(file: string): number[] {
  if (!existsSync(file)) return [];
  return [...readFileSync(file, 'latin1').matchAll(/^livemig-counter (\d+)\r?$/gm)].map((m) => Number(m[1]));
}

/** Resolves with the counters once one above `than` was printed. */
async function counterPast(file: string, than: number, ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const c = counters(file);
    if (c.length > 0 && c.at(-1)! > than) return c;
    if (Date.now() > deadline) throw new Error(`${file}: no livemig-counter above ${than} within ${ms} ms:\n${existsSync(file) ? readFileSync(file, 'latin1').slice(-2000) : '(nothing)'}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('Linux in a v86 PC migrated live over tcp with XBZRLE: its counter goes on at the destination, no reboot', { ...needs, timeout: 180_000 }, async () => {
  const m = manifest!;
  const srcSerial = join(dir, 'src.txt');
  const dstSerial = join(dir, 'dst.txt');
  const dst = startDestination('tcp:127.0.0.1:0', ['--serial', `file:${dstSerial}`, '--exit-after', '3000']);
  const uri = String((await dst.waitFor('listening'))['uri']);
  const src = startSource(['--machine', 'pc', '--ram', '128M', '--kernel', join(guestDir, m.kernel.file), '--initrd', join(guestDir, m.initrd.file), '--append', m.cmdline, '--serial', `file:${srcSerial}`]);
  const before = await counterPast(srcSerial, 1, 120_000); // booted: init runs the memory writer
  assert.deepEqual(await src.ask('migrate_set_capability xbzrle on'), []);
  assert.deepEqual(await src.ask(`migrate ${uri}`), ['Migration status: completed']);
  const info = parseInfo(await src.ask('info migrate'));
  const done = await dst.waitFor('completed');
  assert.equal(info.get('ram digest (page128)'), (done['incoming'] as Record<string, unknown>)['ram-digest']);
  const last = counters(srcSerial).at(-1) ?? before.at(-1)!;
  const after = await counterPast(dstSerial, last, 60_000);
  assert.ok(after[0]! >= last, `the destination's first counter ${after[0]} follows the source's last ${last}`);
  const text = readFileSync(dstSerial, 'latin1');
  assert.doesNotMatch(text, /Linux version/, 'the destination did not boot a kernel again');
  assert.doesNotMatch(text, new RegExp(LINUX_GUEST_CORRUPTION_LINE.source, 'm'), 'no page the memory writer checks arrived stale');
  await dst.waitFor('ran');
  assert.equal(await dst.exited, 0);
  src.send('quit');
  assert.equal(await src.exited, 0);
});
