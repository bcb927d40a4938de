/**
 * livemig's Linux guest for the x86 PC machine (v86): Debian's i386 kernel booted as a bzImage
 * with an initramfs holding busybox-static and the memory writer
 * (src/guest/pc/linux/memwriter.asm), whose /init starts the writer. The writer rewrites two
 * places in each page of a 16 MiB buffer, pass after pass (about 12,000 passes a second in v86
 * here, so all 4096 pages stay dirty), checks on each pass that every page still holds what it
 * last wrote, and prints `livemig-counter N` on the serial console once a second: a migrated
 * guest shows that it kept running (the counter goes on, on the destination, without a reboot)
 * and that its RAM arrived intact (else a {@link LINUX_GUEST_CORRUPTION_LINE}).
 *
 * scripts/linux-guest.sh fetches the Debian packages, assembles the writer and calls
 * {@link assembleLinuxGuest}; this module also reads back what it wrote
 * ({@link readLinuxGuestManifest}).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeCpio } from './cpio.js';
import type { CpioEntry } from './cpio.js';

/**
 * The kernel command line the guest is built for. `console=ttyS0`: kernel messages and /init's
 * console on COM1 (v86's `serial0-output-byte`); `quiet` keeps to warnings and errors. The
 * rest is for an emulated CPU whose clock is wall time: `cryptomgr.notests` skips the crypto
 * self-tests and `noisapnp` the ISA PnP scan (3.3 s and 0.8 s of boot here, per
 * initcall_debug); `tsc=reliable` and `nowatchdog` keep a guest starved by a busy host or
 * paused by a migration from marking its TSC unstable or reporting soft lockups, and the RCU
 * stall warnings such a pause would cause are suppressed.
 */
export const LINUX_GUEST_CMDLINE = 'console=ttyS0 quiet cryptomgr.notests noisapnp tsc=reliable nowatchdog rcupdate.rcu_cpu_stall_suppress=1';

/** Guest RAM the guest is built and tested for: 128 MiB. */
export const LINUX_GUEST_MEMORY_SIZE = 128 * 1024 * 1024;

/** One serial-console line of the memory writer (after `\r` is stripped): group 1 is N. */
export const LINUX_GUEST_COUNTER_LINE = /^livemig-counter (\d+)$/;

/** The line the memory writer prints when a page does not hold what it wrote (a broken migration). */
export const LINUX_GUEST_CORRUPTION_LINE = /^livemig-memwriter: page (\d+) holds (\d+), expected (\d+)$/;

/** The busybox applets linked into /bin (what /init and an interactive look around need). */
export const LINUX_GUEST_APPLETS = ['sh', 'mount', 'umount', 'sleep', 'cat', 'echo', 'grep', 'ls', 'ps', 'dmesg', 'uname', 'free', 'top', 'kill'] as const;

/**
 * The guest's /init, run by busybox sh as PID 1. PID 1 must never exit (the kernel panics), so
 * after the writer ends (it only does on a detected corruption) it says so and sleeps forever.
 */
export const LINUX_GUEST_INIT = `#!/bin/sh
# PID 1 of livemig's Linux guest: mount what busybox's tools read, then run the memory writer.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
read -r up _ < /proc/uptime
echo "livemig-guest: init at $up s of uptime, Linux $(uname -r), $(grep MemTotal /proc/meminfo)"
/bin/memwriter
echo "livemig-guest: memwriter exited with status $?"
while :; do sleep 3600; done
`;

/** What {@link buildLinuxGuestInitramfs} packs. */
export interface LinuxGuestInitramfsInputs {
  /** Debian's busybox-static:i386 binary (/bin/busybox of the package). */
  busybox: Uint8Array;
  /** The assembled memory writer (a static i386 ELF). */
  memwriter: Uint8Array;
  /** /init; {@link LINUX_GUEST_INIT} by default. */
  init?: string;
}

/**
 * The guest's initramfs, an uncompressed newc cpio archive: /init, /bin/busybox and its applet
 * links, /bin/memwriter, the mount points and /dev/console (the kernel opens it for /init
 * before devtmpfs is mounted). Uncompressed: the kernel unpacks it in 0.2 s of guest time,
 * and inflating it first in an emulated CPU would only add to that.
 */
export function buildLinuxGuestInitramfs(inputs: LinuxGuestInitramfsInputs): Uint8Array {
  const dir = (name: string): CpioEntry => ({ type: 'directory', name });
  const entries: CpioEntry[] = [
    dir('bin'),
    dir('dev'),
    dir('proc'),
    dir('sys'),
    dir('tmp'),
    { type: 'char-device', name: 'dev/console', major: 5, minor: 1, mode: 0o600 },
    { type: 'file', name: 'init', mode: 0o755, data: new TextEncoder().encode(inputs.init ?? LINUX_GUEST_INIT) },
    { type: 'file', name: 'bin/busybox', mode: 0o755, data: inputs.busybox },
    { type: 'file', name: 'bin/memwriter', mode: 0o755, data: inputs.memwriter },
    ...LINUX_GUEST_APPLETS.map((a): CpioEntry => ({ type: 'symlink', name: `bin/${a}`, target: 'busybox' })),
  ];
  return writeCpio(entries);
}

/** scripts/linux-guest.sh's output, described by manifest.json beside the two images. */
export interface LinuxGuestManifest {
  /** The manifest's own format: 1. */
  format: 1;
  /** Debian's kernel, as v86's `bzimage`. */
  kernel: LinuxGuestFile & {
    /** Its Debian package, e.g. "linux-image-6.1.0-50-686". */
    package: string;
    /** The package's version, e.g. "6.1.176-1". */
    version: string;
  };
  /** The initramfs, as v86's `initrd`. */
  initrd: LinuxGuestFile & {
    /** The busybox-static package's version it holds. */
    busyboxVersion: string;
    /** sha256 of the memory writer it holds. */
    memwriterSha256: string;
  };
  /** The kernel command line, as v86's `cmdline`. */
  cmdline: string;
  /** Guest RAM in bytes the guest was built and tested for. */
  memorySize: number;
  /** sha256 of the sources that made these files (the script decides when to rebuild). */
  recipe: string;
  /** When they were made (ISO 8601). */
  created: string;
}

/** One image of the guest. */
export interface LinuxGuestFile {
  /** Name inside the output directory. */
  file: string;
  bytes: number;
  /** Lowercase hex. */
  sha256: string;
}

/** Where scripts/linux-guest.sh writes by default: $LIVEMIG_LINUX_GUEST_DIR, else ~/.cache/livemig/linux-guest. */
export function defaultLinuxGuestDir(env: NodeJS.ProcessEnv = process.env): string {
  const forced = env['LIVEMIG_LINUX_GUEST_DIR'];
  return forced !== undefined && forced !== '' ? forced : join(env['HOME'] ?? homedir(), '.cache', 'livemig', 'linux-guest');
}

/** What {@link assembleLinuxGuest} needs: the unpacked Debian files and what to record of them. */
export interface AssembleLinuxGuestOptions {
  outDir: string;
  /** Path of the kernel (boot/vmlinuz-* of the linux-image package). */
  vmlinuz: string;
  /** Path of bin/busybox of busybox-static:i386. */
  busybox: string;
  /** Path of the assembled memory writer. */
  memwriter: string;
  kernelPackage: string;
  kernelVersion: string;
  busyboxVersion: string;
  recipe: string;
  cmdline?: string;
}

/**
 * Writes bzImage, initrd.img and manifest.json into `outDir` (created if needed), each through a
 * temporary file and a rename, the manifest last: a manifest means a complete guest.
 */
export function assembleLinuxGuest(o: AssembleLinuxGuestOptions): LinuxGuestManifest {
  mkdirSync(o.outDir, { recursive: true });
  const kernel = readFileSync(o.vmlinuz);
  const memwriter = readFileSync(o.memwriter);
  const initrd = buildLinuxGuestInitramfs({ busybox: readFileSync(o.busybox), memwriter });
  const manifest: LinuxGuestManifest = {
    format: 1,
    kernel: { file: 'bzImage', bytes: kernel.length, sha256: sha256(kernel), package: o.kernelPackage, version: o.kernelVersion },
    initrd: { file: 'initrd.img', bytes: initrd.length, sha256: sha256(initrd), busyboxVersion: o.busyboxVersion, memwriterSha256: sha256(memwriter) },
    cmdline: o.cmdline ?? LINUX_GUEST_CMDLINE,
    memorySize: LINUX_GUEST_MEMORY_SIZE,
    recipe: o.recipe,
    created: new Date().toISOString(),
  };
  writeAtomically(join(o.outDir, manifest.kernel.file), kernel);
  writeAtomically(join(o.outDir, manifest.initrd.file), initrd);
  writeAtomically(join(o.outDir, 'manifest.json'), new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
  return manifest;
}

/** A guest read back from its directory: the manifest and both images. */
export interface LinuxGuestImages {
  manifest: LinuxGuestManifest;
  bzimage: Uint8Array;
  initrd: Uint8Array;
}

/**
 * The manifest of the guest in `dir`, or undefined when there is none or it is not complete
 * (a missing image, a size that differs). With `verify`, the images' sha256 are checked too.
 */
export function readLinuxGuestManifest(dir: string, verify = false): LinuxGuestManifest | undefined {
  return readLinuxGuest(dir, verify)?.manifest;
}

/** The guest in `dir` with both images loaded, or undefined (see {@link readLinuxGuestManifest}). */
export function readLinuxGuest(dir: string, verify = true): LinuxGuestImages | undefined {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) return undefined;
  let m: LinuxGuestManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as LinuxGuestManifest;
  } catch {
    return undefined;
  }
  if (m.format !== 1 || typeof m.cmdline !== 'string' || !m.kernel || !m.initrd) return undefined;
  const images: Uint8Array[] = [];
  for (const f of [m.kernel, m.initrd]) {
    const p = join(dir, f.file);
    if (!existsSync(p)) return undefined;
    const bytes = readFileSync(p);
    if (bytes.length !== f.bytes || (verify && sha256(bytes) !== f.sha256)) return undefined;
    images.push(bytes);
  }
  return { manifest: m, bzimage: images[0]!, initrd: images[1]! };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}
