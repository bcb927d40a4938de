/**
 * The PC boot-sector guests: two load generators small enough to read in full
 * (src/guest/pc/boot/*.asm, one 512-byte sector each, assembled by
 * scripts/build-boot-images.sh and committed beside their sources), booted by SeaBIOS from a
 * floppy in v86 (or QEMU), and the checks of the RAM patterns they leave.
 *
 * Guest-physical layout, the same for both (ramBytes: the machine's RAM, whole MiB):
 *
 * ```
 *   0x00000 .. 0x7bff       real-mode IVT and BIOS data, then the guests' stack (below 0x7c00)
 *   0x07c00 .. 0x7dff       the boot sector (code, GDT), loaded by the BIOS
 *   ..      .. 0xfffff      the rest of low RAM, the VGA hole, the BIOS: not written by the guests
 *   0x100000 .. ramBytes    the region: page i (0-based) at 0x100000 + i * 4096; zeroed at start,
 *                           then rewritten pass after pass, ascending (bootRegion)
 * ```
 *
 * Serial (COM1, port 0x3f8): 'A' once the region is zeroed and the pattern starts, 'B' after
 * every completed pass, 'E' (then halt) when the BIOS cannot say how much RAM there is.
 *
 * Speed in v86 0.5.462 on a 2-core VM (JIT on, Node 20), steady state after boot, measured with
 * a script timing the pass markers: at 32 MiB of RAM (7936 pages in the region) stride does
 * ~3000 passes/s with the machine quiet and 1400-2400 with the other core busy (one `inc` per
 * page); load2011 ~1700 quiet, 930-1100 busy (a few more instructions per page). At 128 MiB
 * (32512 pages), busy: stride ~320, load2011 ~260. SeaBIOS gets to 'A' 0.2-0.9 s after the
 * emulator is created (no VGA BIOS). A stop() mostly lands between a pass's last page and its
 * 'B' (v86 seems to end its run slices at the marker's port I/O), so RAM is often one pass
 * ahead of the markers counted, with no boundary.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../../errors.js';

/** Bytes in a page, the unit both patterns stride by. */
export const PAGE_BYTES = 4096;
/** The region starts at 1 MiB, above everything the BIOS and the boot sector use. */
export const REGION_START_BYTES = 0x100000;
/** One boot sector: what the BIOS loads and the .img files hold. */
export const SECTOR_BYTES = 512;

/** Written to COM1 once the region is zeroed and the first pass begins. */
export const START_MARKER = 0x41; // 'A'
/** Written to COM1 after every completed pass. */
export const PASS_MARKER = 0x42; // 'B'
/** Written to COM1 (then the guest halts) when int 15h/E801 fails: no RAM size, no pattern. */
export const ERROR_MARKER = 0x45; // 'E'

/**
 * Floppy sizes v86 0.5.462 takes as they are (its floppy.js DISK_FORMATS, autodetected from the
 * size): 160 KiB (40 tracks, 1 head, 8 sectors) and the 1.44 MB 3.5" disk. v86 pads a smaller
 * buffer itself to the nearest format, but giving the exact size does not depend on that.
 * 160 KiB is the default: v86's save_state carries the whole floppy buffer, so the 1.44 MB
 * disk adds 1.3 MB (mostly zeros) to every saved device state.
 */
export const FLOPPY_160K_BYTES = 163_840;
export const FLOPPY_1440K_BYTES = 1_474_560;
export type FloppyBytes = typeof FLOPPY_160K_BYTES | typeof FLOPPY_1440K_BYTES;

/** What a pattern check found. */
export interface PatternCheck {
  /** True when every page of the region holds what pass `passes` or `passes + 1` leaves there, split at one boundary at most. */
  ok: boolean;
  /**
   * Completed passes, modulo 256 (RAM keeps 8 bits; count PASS_MARKERs for the full number).
   * When `ok` is false: the guess the check was made against.
   */
  passes: number;
  /**
   * Guest-physical page number (address / 4096) of the first page still at `passes`, the
   * pages of the region before it being one pass ahead (the guest was stopped mid-pass);
   * null when all pages are at `passes`.
   */
  boundaryPage: number | null;
  /** One line when consistent; otherwise the first mismatching pages (at most 10) and a count. */
  message: string;
}

export type PatternChecker = (ram: Uint8Array, ramBytes: number) => PatternCheck;

export interface BootImageInfo {
  readonly name: BootImageName;
  /** What it writes, in one line. */
  readonly description: string;
  /** The check of the pattern it leaves in RAM. */
  readonly check: PatternChecker;
}

export type BootImageName = 'stride' | 'load2011';

/** Most inconsistencies a failed check lists (QEMU's migration test prints ten too). */
const MAX_REPORTED = 10;
/** v86 and BIOSes report RAM below the PCI hole as one range; stay well below 4 GiB (32-bit EBP). */
const MAX_RAM_BYTES = 3 * 1024 * 1024 * 1024;
const MIB = 1024 * 1024;

/** The guest-physical byte range the guests write for a machine with `ramBytes` of RAM: [1 MiB, ramBytes). */
export function bootRegion(ramBytes: number): { startBytes: number; endBytes: number } {
  // The guests round the BIOS's answer up to a whole MiB (SeaBIOS may keep a few KiB at the
  // top for itself): so RAM must be whole MiB, and at least 2 MiB for a region of 256 pages.
  if (!Number.isSafeInteger(ramBytes) || ramBytes % MIB !== 0 || ramBytes < 2 * MIB || ramBytes > MAX_RAM_BYTES) {
    throw new InvalidArgumentError(`boot-sector guest RAM ${String(ramBytes)} bytes must be a whole number of MiB from 2 MiB to 3 GiB`);
  }
  return { startBytes: REGION_START_BYTES, endBytes: ramBytes };
}

/**
 * The raw boot sector of `name` (512 bytes ending in 55 AA), read from `dir`: by default the
 * `boot/` folder beside this module (dist/src/guest/pc/boot/, where the build copies them).
 */
export function readBootImage(name: BootImageName, dir: URL = new URL('./boot/', import.meta.url)): Uint8Array {
  if (!isBootImageName(name)) throw new InvalidArgumentError(`unknown boot image ${JSON.stringify(name)}: one of ${Object.keys(BOOT_IMAGES).join(', ')}`);
  const url = new URL(`${name}.img`, dir);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(url));
  } catch (e) {
    throw new InvalidArgumentError(`boot image ${name}: cannot read ${fileURLToPath(url)} (does the build copy src/guest/pc/boot/*.img?)`, { cause: e });
  }
  if (bytes.length !== SECTOR_BYTES || bytes[510] !== 0x55 || bytes[511] !== 0xaa) {
    throw new InvalidArgumentError(`boot image ${fileURLToPath(url)} is not a boot sector (${bytes.length} bytes; want ${SECTOR_BYTES} ending in 55 AA)`);
  }
  return bytes;
}

/**
 * `name`'s boot sector as a whole floppy for v86 (`fda: { buffer: floppyImage(name).buffer }`):
 * the sector, then zeros up to `bytes`. A fresh array owning its whole buffer on every call
 * (v86 keeps the buffer it is given).
 */
export function floppyImage(name: BootImageName, bytes: FloppyBytes = FLOPPY_160K_BYTES, dir?: URL): Uint8Array<ArrayBuffer> {
  if (bytes !== FLOPPY_160K_BYTES && bytes !== FLOPPY_1440K_BYTES) {
    throw new InvalidArgumentError(`floppy size ${String(bytes)}: ${FLOPPY_160K_BYTES} or ${FLOPPY_1440K_BYTES}`);
  }
  const disk = new Uint8Array(bytes);
  disk.set(dir === undefined ? readBootImage(name) : readBootImage(name, dir));
  return disk;
}

/** How many `marker` bytes (PASS_MARKER unless told) are in what the guest wrote to COM1. */
export function countMarkers(serialBytes: ArrayLike<number>, marker: number = PASS_MARKER): number {
  let n = 0;
  for (let i = 0; i < serialBytes.length; i++) if (serialBytes[i] === marker) n++;
  return n;
}

/**
 * Checks the stride pattern: byte 0 of region page i is `passes` mod 256 for every page, except
 * that pages before one boundary are at `passes + 1` (the guest was stopped mid-pass). Every
 * page tells its pass count mod 256, so the first page fixes the guess: all pages equal to it
 * means no boundary; otherwise the first page that differs is the boundary and the guess is
 * one pass less. Then every page is compared with the guess: a stale page, a page ahead, a
 * second boundary or a torn pattern all show as mismatches. (A page one pass behind at the
 * very end, or one ahead at the very start, is indistinguishable from a guest stopped there.)
 * Reads one byte per page; allocates nothing per page.
 * @param ram guest-physical RAM from address 0, at least `ramBytes` long (the guest paused).
 */
export function checkStridePattern(ram: Uint8Array, ramBytes: number): PatternCheck {
  const { start, pages } = layout(ram, ramBytes);
  const a = ram[start]!;
  let k = 1;
  while (k < pages && ram[start + k * PAGE_BYTES] === a) k++;
  const [n, boundary] = k === pages ? [a, 0] : [(a - 1) & 255, k];
  return verify('stride', ram, start, pages, n, boundary, strideOffset, strideValue, 'byte 0 of page 0');
}

/**
 * Checks the load2011 pattern: the byte at offset (1234 + i) & 4095 of region page i is
 * (passes * i) mod 256, except that pages before one boundary hold ((passes + 1) * i) mod 256.
 *
 * What a page can tell: one more pass adds i mod 256 to its byte. A page whose i is odd tells
 * the pass count mod 256 exactly (odd i is invertible mod 256). A page with i = 2^t * odd
 * (t < 8) only tells it mod 2^(8-t), and pages with i a multiple of 256 hold 0 in every pass:
 * they say nothing about passes or the boundary (but must be 0). So the guess is made from odd
 * pages only, which are at most two apart:
 *  - page 1 gives A, the pass count of the pages before the boundary (or of all);
 *  - walk the odd pages up while they agree with A. If all do, there is no boundary (the pass
 *    count is A), unless the region ends with an even page that only fits A - 1 (a boundary
 *    there; never with whole-MiB regions, whose last page is odd). Otherwise the pass count is
 *    A - 1 and the boundary is just before or just after the even page between the last odd
 *    page at A and the first that is not: that page's byte decides; when it fits both (i a
 *    multiple of 256) the earlier position is reported. Either way the whole region then fits.
 *  - then every page, informative or not, is compared with the guess.
 * Whenever some (passes, boundary) makes every page fit, this finds one (a guess from page 1
 * that is wrong can only come from a region no guess fits), so ambiguous pages never cause a
 * false failure; a page off by one, a stale page (whose byte differs from its current value)
 * or a second boundary fail unless they sit at an edge where the pattern allows them.
 * Reads one byte per page; allocates nothing per page.
 * @param ram guest-physical RAM from address 0, at least `ramBytes` long (the guest paused).
 */
export function checkLoad2011Pattern(ram: Uint8Array, ramBytes: number): PatternCheck {
  const { start, pages } = layout(ram, ramBytes);
  const byteOf = (i: number): number => ram[start + i * PAGE_BYTES + load2011Offset(i)]!;
  const a = byteOf(1);
  const lastOdd = (pages - 1) % 2 === 1 ? pages - 1 : pages - 2;
  let o = 1;
  while (o < lastOdd && byteOf(o + 2) === load2011Value(o + 2, a)) o += 2;
  let n: number;
  let boundary: number;
  if (o === lastOdd) {
    const last = pages - 1;
    const behind = last !== lastOdd && byteOf(last) === load2011Value(last, a - 1) && byteOf(last) !== load2011Value(last, a);
    [n, boundary] = behind ? [(a - 1) & 255, last] : [a, 0];
  } else {
    const e = o + 1; // even: the only page between odd page o (at A) and o + 2 (not at A)
    n = (a - 1) & 255;
    const ahead = byteOf(e) === load2011Value(e, a) && byteOf(e) !== load2011Value(e, n);
    boundary = ahead ? o + 2 : e;
  }
  return verify('load2011', ram, start, pages, n, boundary, load2011Offset, load2011Value, 'the odd pages');
}

/** The catalogue: each guest by name, with its check. */
export const BOOT_IMAGES: Readonly<Record<BootImageName, BootImageInfo>> = Object.freeze({
  stride: {
    name: 'stride',
    description: "QEMU's migration-test load: byte 0 of every page of [1 MiB, RAM end) += 1, pass after pass",
    check: checkStridePattern,
  },
  load2011: {
    name: 'load2011',
    description: "the 2011 XBRLE patch's load: page i's byte (1234 + i) & 4095 += i, pass after pass over [1 MiB, RAM end)",
    check: checkLoad2011Pattern,
  },
});

export function isBootImageName(name: string): name is BootImageName {
  return Object.hasOwn(BOOT_IMAGES, name);
}

function strideOffset(): number {
  return 0;
}

function strideValue(_i: number, passes: number): number {
  return passes & 255;
}

function load2011Offset(i: number): number {
  return (1234 + i) & (PAGE_BYTES - 1);
}

function load2011Value(i: number, passes: number): number {
  return Math.imul(passes, i) & 255;
}

function layout(ram: Uint8Array, ramBytes: number): { start: number; pages: number } {
  const { startBytes, endBytes } = bootRegion(ramBytes);
  if (ram.length < endBytes) {
    throw new InvalidArgumentError(`guest RAM view is ${ram.length} bytes, shorter than the ${ramBytes} bytes of RAM to check`);
  }
  return { start: startBytes, pages: (endBytes - startBytes) / PAGE_BYTES };
}

/** Compares every page with the guess: pages below `boundary` at n + 1, the rest at n. */
function verify(
  pattern: string,
  ram: Uint8Array,
  start: number,
  pages: number,
  n: number,
  boundary: number,
  offsetOf: (i: number) => number,
  valueOf: (i: number, passes: number) => number,
  guessedFrom: string,
): PatternCheck {
  const firstPage = start / PAGE_BYTES;
  const boundaryPage = boundary === 0 ? null : firstPage + boundary;
  let bad = 0;
  const lines: string[] = [];
  for (let i = 0; i < pages; i++) {
    const passes = i < boundary ? n + 1 : n;
    const at = start + i * PAGE_BYTES + offsetOf(i);
    const want = valueOf(i, passes);
    if (ram[at] === want) continue;
    bad++;
    if (lines.length < MAX_REPORTED) {
      lines.push(`  page 0x${(firstPage + i).toString(16)} (region page ${i}, byte at 0x${at.toString(16)}) = ${hex(ram[at]!)}, expected ${hex(want)} (pass ${passes & 255} mod 256)`);
    }
  }
  const where = boundaryPage === null ? 'no boundary' : `boundary at page 0x${boundaryPage.toString(16)} (region page ${boundary}: the pages before it one pass ahead)`;
  if (bad === 0) {
    return { ok: true, passes: n, boundaryPage, message: `${pattern} pattern consistent: ${pages} pages, ${n} passes (mod 256), ${where}` };
  }
  if (bad > MAX_REPORTED) lines.push(`  ... and ${bad - MAX_REPORTED} more`);
  return {
    ok: false,
    passes: n,
    boundaryPage,
    message: `${pattern} pattern inconsistent: ${bad} of ${pages} pages fit neither side of the best guess from ${guessedFrom} (${n} passes mod 256, ${where})\n${lines.join('\n')}`,
  };
}

function hex(v: number): string {
  return `0x${v.toString(16).padStart(2, '0')}`;
}
