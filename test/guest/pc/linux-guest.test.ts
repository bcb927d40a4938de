import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { V86 } from 'v86';
import { buildLinuxGuestInitramfs, defaultLinuxGuestDir, LINUX_GUEST_APPLETS, LINUX_GUEST_CORRUPTION_LINE, LINUX_GUEST_COUNTER_LINE, LINUX_GUEST_INIT, readLinuxGuest } from '../../../src/guest/pc/initramfs.js';
import { requirement, requires } from '../../helpers/requirements.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const MEMWRITER_ASM = join(repo, 'src/guest/pc/linux/memwriter.asm');
const BIOS = '/usr/share/seabios/bios.bin';
const guestDir = defaultLinuxGuestDir();
const guest = readLinuxGuest(guestDir);
/** Boot to the third counter line took 10-30 s here (2 busy cores); far more means something is wrong. */
const BOOT_LIMIT_MS = 240_000;

/** Members of a newc archive by name: mode, rdev and data (enough to check the initramfs layout). */
function members(bytes: Uint8Array): Map<string, { mode: number; rdev: [number, number]; data: Uint8Array }> {
  const out = new Map<string, { mode: number; rdev: [number, number]; data: Uint8Array }>();
  const text = (at: number, n: number): string => Buffer.from(bytes.subarray(at, at + n)).toString('latin1');
  const align = (n: number): number => (n + 3) & ~3;
  for (let at = 0; ; ) {
    const f = (i: number): number => parseInt(text(at + 6 + 8 * i, 8), 16);
    const namesize = f(11);
    const name = text(at + 110, namesize - 1);
    if (name === 'TRAILER!!!') return out;
    const dataAt = align(at + 110 + namesize);
    out.set(name, { mode: f(1), rdev: [f(9), f(10)], data: bytes.subarray(dataAt, dataAt + f(6)) });
    at = align(dataAt + f(6));
  }
}

test('initramfs: /init, busybox and its applets, the memory writer, the mount points and /dev/console', () => {
  const busybox = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3]);
  const memwriter = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 9]);
  const m = members(buildLinuxGuestInitramfs({ busybox, memwriter }));
  assert.equal(m.get('init')!.mode, 0o100755);
  assert.equal(Buffer.from(m.get('init')!.data).toString(), LINUX_GUEST_INIT);
  assert.ok(LINUX_GUEST_INIT.startsWith('#!/bin/sh\n'));
  assert.deepEqual(m.get('bin/busybox'), { mode: 0o100755, rdev: [0, 0], data: busybox });
  assert.deepEqual(m.get('bin/memwriter'), { mode: 0o100755, rdev: [0, 0], data: memwriter });
  for (const a of LINUX_GUEST_APPLETS) assert.deepEqual(m.get(`bin/${a}`), { mode: 0o120777, rdev: [0, 0], data: new TextEncoder().encode('busybox') }, a);
  for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp']) assert.equal(m.get(d)!.mode, 0o040755, d);
  assert.deepEqual(m.get('dev/console'), { mode: 0o020600, rdev: [5, 1], data: new Uint8Array(0) });
  // every command /init runs is an applet linked in /bin
  for (const cmd of ['mount', 'uname', 'grep', 'sleep']) assert.ok((LINUX_GUEST_APPLETS as readonly string[]).includes(cmd), cmd);
});

test('memwriter.asm assembles to a static i386 ELF executable', requires.nasm(), () => {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-memwriter-'));
  try {
    execFileSync('nasm', ['-f', 'bin', '-Werror', '-o', join(dir, 'memwriter'), MEMWRITER_ASM]);
    const elf = readFileSync(join(dir, 'memwriter'));
    assert.deepEqual([...elf.subarray(0, 7)], [0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]); // ELF, 32-bit, little-endian, version 1
    assert.equal(elf.readUInt16LE(16), 2); // ET_EXEC
    assert.equal(elf.readUInt16LE(18), 3); // EM_386
    const entry = elf.readUInt32LE(24);
    const phoff = elf.readUInt32LE(28);
    assert.equal(elf.readUInt16LE(44), 2); // PT_LOAD and PT_GNU_STACK
    const load = { type: elf.readUInt32LE(phoff), vaddr: elf.readUInt32LE(phoff + 8), filesz: elf.readUInt32LE(phoff + 16), flags: elf.readUInt32LE(phoff + 24) };
    assert.deepEqual(load, { type: 1, vaddr: 0x08048000, filesz: elf.length, flags: 5 });
    assert.ok(entry > load.vaddr && entry < load.vaddr + elf.length, 'entry inside the loaded file');
    assert.equal(elf.readUInt32LE(phoff + 32), 0x6474e551);
    assert.equal(elf.readUInt32LE(phoff + 32 + 24), 6); // a non-executable stack
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const bootRequirement = existsSync(BIOS)
  ? requirement(`the Linux guest in ${guestDir}`, guest !== undefined, `bash scripts/linux-guest.sh after npm run build, or set LIVEMIG_LINUX_GUEST_DIR to its output`)
  : requirement(`SeaBIOS (${BIOS})`, false, 'apt-get install -y seabios');

test('the Linux guest boots in v86 and its memory writer counts on the serial console', { ...bootRequirement, timeout: 300_000 }, async (t) => {
  const { manifest, bzimage, initrd } = guest!;
  const own = (b: Uint8Array): ArrayBuffer => new Uint8Array(b).buffer; // a copy of exactly these bytes (a Buffer may share a pool)
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const started = performance.now();
  const lines: string[] = [];
  let line = '';
  let onLine: (l: string) => void = () => {};
  const emulator = new V86({
    wasm_path: join(repo, 'node_modules/v86/build/v86.wasm'),
    bios: { buffer: own(readFileSync(BIOS)) },
    memory_size: manifest.memorySize,
    bzimage: { buffer: own(bzimage) },
    initrd: { buffer: own(initrd) },
    cmdline: manifest.cmdline,
    autostart: true,
  });
  emulator.add_listener('serial0-output-byte', (byte: number) => {
    if (byte === 0x0a) {
      const l = line.replace(/\r$/, '');
      line = '';
      lines.push(l);
      onLine(l);
    } else line += String.fromCharCode(byte);
  });
  const counters: { n: number; at: number }[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      // the emulator keeps the event loop busy: give up (and destroy it) before node:test's timeout
      const timer = setTimeout(() => reject(new Error(`no "livemig-counter 2" within ${s(BOOT_LIMIT_MS)}`)), BOOT_LIMIT_MS);
      onLine = (l) => {
        if (LINUX_GUEST_CORRUPTION_LINE.test(l)) {
          clearTimeout(timer);
          reject(new Error(`the memory writer found a page it did not write: ${l}`));
        }
        const m = LINUX_GUEST_COUNTER_LINE.exec(l);
        if (!m) return;
        counters.push({ n: Number(m[1]), at: performance.now() });
        if (Number(m[1]) >= 2) {
          clearTimeout(timer);
          resolve();
        }
      };
    }).catch((e: unknown) => {
      throw new Error(`${String(e)}\nlast serial lines:\n${lines.slice(-20).join('\n')}`);
    });
  } finally {
    await emulator.destroy();
  }
  assert.deepEqual(counters.map((c) => c.n), [0, 1, 2]);
  t.diagnostic(`${manifest.kernel.package} ${manifest.kernel.version}: first counter line after ${s(counters[0]!.at - started)}, then every ${s(counters[1]!.at - counters[0]!.at)}, ${s(counters[2]!.at - counters[1]!.at)}; rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
});
