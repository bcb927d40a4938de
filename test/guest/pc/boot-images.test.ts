import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { V86 } from 'v86';
import {
  BOOT_IMAGES,
  FLOPPY_160K_BYTES,
  FLOPPY_1440K_BYTES,
  PAGE_BYTES,
  PASS_MARKER,
  REGION_START_BYTES,
  START_MARKER,
  bootRegion,
  checkLoad2011Pattern,
  checkStridePattern,
  countMarkers,
  floppyImage,
  readBootImage,
} from '../../../src/guest/pc/boot-images.js';
import type { BootImageName, PatternCheck } from '../../../src/guest/pc/boot-images.js';
import { prng } from '../../helpers/pages.js';
import { requirement, requires } from '../../helpers/requirements.js';

const MIB = 1024 * 1024;
/** dist/test/guest/pc/ -> the repository (the committed images live in src/guest/pc/boot/). */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const NAMES = Object.keys(BOOT_IMAGES) as BootImageName[];

// ---- the patterns, simulated the way the guests write them ----

interface Pattern {
  name: BootImageName;
  check: (ram: Uint8Array, ramBytes: number) => PatternCheck;
  offset: (i: number) => number;
  /** The pattern byte of region page i after `passes` passes. */
  value: (i: number, passes: number) => number;
  /** One pass's write to page i (what the guest's loop body does). */
  write: (ram: Uint8Array, i: number) => void;
}

const at = (i: number, offset: number): number => REGION_START_BYTES + i * PAGE_BYTES + offset;

const STRIDE: Pattern = {
  name: 'stride',
  check: checkStridePattern,
  offset: () => 0,
  value: (_i, passes) => passes & 255,
  write: (ram, i) => {
    ram[at(i, 0)] = (ram[at(i, 0)]! + 1) & 255;
  },
};

const LOAD2011: Pattern = {
  name: 'load2011',
  check: checkLoad2011Pattern,
  offset: (i) => (1234 + i) & 4095,
  value: (i, passes) => Math.imul(passes, i) & 255,
  write: (ram, i) => {
    const a = at(i, (1234 + i) & 4095);
    ram[a] = (ram[a]! + i) & 255;
  },
};

const PATTERNS = [STRIDE, LOAD2011];

const pagesOf = (ramBytes: number): number => (ramBytes - REGION_START_BYTES) / PAGE_BYTES;

/** RAM after `passes` full passes and a partial one over pages [0, boundary), with noise outside the pattern bytes. */
function simulate(p: Pattern, ramBytes: number, passes: number, boundary: number, seed: number): Uint8Array {
  const ram = new Uint8Array(ramBytes);
  const next = prng(seed);
  // what else is in RAM must not matter: low memory, and other bytes of every region page
  for (let a = 0; a < REGION_START_BYTES; a += 61) ram[a] = next() & 255;
  const pages = pagesOf(ramBytes);
  for (let i = 0; i < pages; i++) {
    const o = p.offset(i);
    ram[at(i, (o + 1) & 4095)] = next() & 255;
    ram[at(i, (o + 2048) & 4095)] = next() & 255;
  }
  for (let n = 0; n < passes; n++) for (let i = 0; i < pages; i++) p.write(ram, i);
  for (let i = 0; i < boundary; i++) p.write(ram, i);
  return ram;
}

/**
 * An independent brute-force answer: every (passes mod 256, boundary k) that explains the RAM.
 * For each n, pages [0, k) must fit n + 1 and [k, pages) fit n: k can be anywhere from just
 * after the last page that does not fit n to the first page that does not fit n + 1.
 */
function explanations(p: Pattern, ram: Uint8Array, ramBytes: number): Map<number, [number, number]> {
  const pages = pagesOf(ramBytes);
  const out = new Map<number, [number, number]>();
  for (let n = 0; n < 256; n++) {
    let firstNotAhead = pages;
    let lastNotBehind = -1;
    for (let i = 0; i < pages; i++) {
      const v = ram[at(i, p.offset(i))];
      if (firstNotAhead === pages && v !== p.value(i, n + 1)) firstNotAhead = i;
      if (v !== p.value(i, n)) lastNotBehind = i;
    }
    if (lastNotBehind + 1 <= firstNotAhead) out.set(n, [lastNotBehind + 1, firstNotAhead]);
  }
  return out;
}

/** The check agrees with the brute force: ok exactly when some (n, k) explains the RAM, and then it names one. */
function assertAgreesWithBruteForce(p: Pattern, ram: Uint8Array, ramBytes: number): PatternCheck {
  const r = p.check(ram, ramBytes);
  const all = explanations(p, ram, ramBytes);
  assert.equal(r.ok, all.size > 0, `${p.name}: check says ${r.ok}, brute force found ${all.size} explanations\n${r.message}`);
  if (r.ok) {
    const range = all.get(r.passes);
    assert.ok(range !== undefined, `${p.name}: ${r.passes} passes explains nothing\n${r.message}`);
    const k = r.boundaryPage === null ? 0 : r.boundaryPage - REGION_START_BYTES / PAGE_BYTES;
    assert.ok(k >= range[0] && k <= range[1], `${p.name}: boundary ${k} outside [${range[0]}, ${range[1]}] for ${r.passes} passes`);
  }
  return r;
}

const ramSizes = fc.constantFrom(2 * MIB, 3 * MIB, 4 * MIB, 5 * MIB);
const passCounts = fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constantFrom(0, 1, 255, 256, 257, 511, 512));
/** A boundary as a fraction of the region, or one of the pages where load2011's bytes are uninformative. */
const boundaries = fc.oneof(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.constantFrom(0, 1, 2, 255, 256, 257, 258, 511, 512, 513, 767, 768, 769));
const boundaryIn = (b: number, pages: number): number => (b < 1 ? Math.floor(b * pages) : Math.min(b, pages - 1));

/** Where the check puts a boundary at k: load2011 reports the earlier side of a page that holds 0 in every pass. */
function reportedBoundary(p: Pattern, k: number): number | null {
  if (p === LOAD2011 && k % 2 === 1 && (k - 1) % 256 === 0) k -= 1;
  return k === 0 ? null : REGION_START_BYTES / PAGE_BYTES + k;
}

describe('boot-image pattern checks', () => {
  for (const p of PATTERNS) {
    test(`${p.name}: k passes and a partial pass up to any boundary pass, with k mod 256 and that boundary`, () => {
      fc.assert(
        fc.property(ramSizes, passCounts, boundaries, fc.integer(), (ramBytes, passes, b, seed) => {
          const pages = pagesOf(ramBytes);
          const k = boundaryIn(b, pages);
          const ram = simulate(p, ramBytes, passes, k, seed);
          const r = p.check(ram, ramBytes);
          assert.equal(r.ok, true, r.message);
          assert.equal(r.passes, passes & 255, r.message);
          assert.equal(r.boundaryPage, reportedBoundary(p, k), r.message);
        }),
        { numRuns: 120 },
      );
    });

    test(`${p.name}: one corrupted page or a second boundary fails whenever no (passes, boundary) explains it`, () => {
      const kinds = fc.constantFrom('plus1', 'minus1', 'stale', 'ahead', 'second-boundary', 'zero-page');
      fc.assert(
        fc.property(ramSizes, passCounts, boundaries, kinds, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 3 }), fc.integer(), (ramBytes, passes, b, kind, where, d, seed) => {
          const pages = pagesOf(ramBytes);
          const k = boundaryIn(b, pages);
          const ram = simulate(p, ramBytes, passes, k, seed);
          const q = Math.floor(where * pages);
          const passesOf = (i: number): number => (i < k ? passes + 1 : passes);
          const cell = (i: number): number => at(i, p.offset(i));
          let changed = true;
          let mustFail: boolean;
          // a page's neighbourhood that certainly pins its pass count: odd pages on both sides
          // for load2011 (only they tell passes exactly), the adjacent pages for stride
          const reach = p === LOAD2011 ? 2 : 1;
          const interior = q >= reach && q + reach < pages && (q + reach < k || q - reach >= k);
          switch (kind) {
            case 'plus1':
            case 'minus1':
              ram[cell(q)] = (ram[cell(q)]! + (kind === 'plus1' ? 1 : 255)) & 255;
              mustFail = interior;
              break;
            case 'stale':
            case 'ahead': {
              const v = p.value(q, passesOf(q) + (kind === 'ahead' ? d : -d));
              changed = v !== ram[cell(q)];
              ram[cell(q)] = v;
              mustFail = interior && changed;
              break;
            }
            case 'second-boundary': {
              // pages from q2 on fall one more pass behind: three pass counts in one region
              const q2 = Math.max(q, k + reach);
              for (let i = q2; i < pages; i++) ram[cell(i)] = p.value(i, passesOf(i) - 1);
              mustFail = k >= reach && q2 <= pages - 1 && (p !== LOAD2011 || k >= 2);
              changed = q2 <= pages - 1;
              break;
            }
            case 'zero-page': {
              // a page whose byte never changes (load2011: i multiple of 256) must stay 0
              const z = p === LOAD2011 ? 256 * Math.floor((where * pages) / 256) : q;
              ram[cell(z)] = (ram[cell(z)]! + 1) & 255;
              mustFail = p === LOAD2011 || interior;
              break;
            }
            default:
              throw new Error(kind);
          }
          const r = assertAgreesWithBruteForce(p, ram, ramBytes);
          if (mustFail) assert.equal(r.ok, false, `${kind} at page ${q} (boundary ${k}, ${passes} passes) passed: ${r.message}`);
          if (!changed) assert.equal(r.ok, true, r.message);
          if (!r.ok) assert.match(r.message, /inconsistent/);
        }),
        { numRuns: 150 },
      );
    });
  }

  test('a failed check lists the first ten bad pages with their guest addresses, then a count', () => {
    const ramBytes = 3 * MIB;
    const ram = simulate(STRIDE, ramBytes, 7, 100, 1);
    for (let i = 200; i < 230; i++) ram[at(i, 0)] = 9;
    const r = checkStridePattern(ram, ramBytes);
    assert.equal(r.ok, false);
    assert.equal(r.passes, 7);
    assert.match(r.message, /30 of 512 pages/);
    assert.match(r.message, /page 0x1c8 \(region page 200, byte at 0x1c8000\) = 0x09, expected 0x07/);
    assert.match(r.message, /\.\.\. and 20 more/);
  });

  test('an untouched (all-zero) region is consistent at 0 passes; a wrap from 255 to 0 is one step', () => {
    for (const p of PATTERNS) {
      const r = p.check(new Uint8Array(2 * MIB), 2 * MIB);
      assert.deepEqual([r.ok, r.passes, r.boundaryPage], [true, 0, null], r.message);
    }
    const r = checkStridePattern(simulate(STRIDE, 2 * MIB, 255, 10, 3), 2 * MIB);
    assert.deepEqual([r.ok, r.passes, r.boundaryPage], [true, 255, 266]);
  });

  test('bootRegion: [1 MiB, RAM) for whole-MiB RAM from 2 MiB; the checks refuse a short RAM view', () => {
    assert.deepEqual(bootRegion(32 * MIB), { startBytes: MIB, endBytes: 32 * MIB });
    assert.deepEqual(bootRegion(128 * MIB), { startBytes: MIB, endBytes: 128 * MIB });
    for (const bad of [0, MIB, 32 * MIB + 4096, 1.5, Number.NaN, 4 * 1024 * MIB]) assert.throws(() => bootRegion(bad), /whole number of MiB/);
    assert.throws(() => checkStridePattern(new Uint8Array(MIB), 2 * MIB), /shorter/);
  });

  test('countMarkers counts pass markers (or any byte)', () => {
    const serial = new TextEncoder().encode('ABBxB');
    assert.equal(countMarkers(serial), 3);
    assert.equal(countMarkers(serial, START_MARKER), 1);
    assert.equal(countMarkers([]), 0);
  });
});

// ---- the images: boot sectors, reproducible from their sources ----

describe('boot images', () => {
  test('each is one boot sector; floppyImage pads it to a floppy size v86 takes as is', () => {
    for (const name of NAMES) {
      const sector = readBootImage(name);
      assert.equal(sector.length, 512);
      assert.deepEqual([sector[510], sector[511]], [0x55, 0xaa]);
      assert.deepEqual(sector, new Uint8Array(readFileSync(join(ROOT, `src/guest/pc/boot/${name}.img`))), 'the build copies the committed image');
      for (const size of [FLOPPY_160K_BYTES, FLOPPY_1440K_BYTES] as const) {
        const disk = floppyImage(name, size);
        assert.equal(disk.buffer.byteLength, size);
        assert.deepEqual(disk.subarray(0, 512), sector);
        assert.ok(disk.subarray(512).every((b) => b === 0));
      }
    }
    assert.throws(() => readBootImage('nope' as BootImageName), /unknown boot image/);
  });

  test('scripts/build-boot-images.sh rebuilds the committed images byte for byte', requires.nasm(), () => {
    const out = mkdtempSync(join(tmpdir(), 'livemig-boot-'));
    try {
      const r = spawnSync('sh', [join(ROOT, 'scripts/build-boot-images.sh'), out], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      for (const name of NAMES) {
        assert.deepEqual(readFileSync(join(out, `${name}.img`)), readFileSync(join(ROOT, `src/guest/pc/boot/${name}.img`)), `${name}.img differs from its source: run scripts/build-boot-images.sh and commit`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

// ---- booted by SeaBIOS in v86 ----

const BIOS = '/usr/share/seabios/bios.bin';
const MEMORY = 32 * MIB;
const WANT_PASSES = 3;

/** The parts of v86's internals this test reads (not in its .d.ts; the version is pinned). */
interface V86Internals {
  v86: { cpu: { wasm_memory: WebAssembly.Memory; mem8: Uint8Array } };
}

describe('booted in v86', requirement('SeaBIOS (bios.bin)', existsSync(BIOS), 'apt-get install -y seabios'), () => {
  for (const name of NAMES) {
    test(`${name}: SeaBIOS boots it from a floppy; after ${WANT_PASSES} pass markers RAM holds a consistent pattern`, { timeout: 120_000 }, async () => {
      const emulator = new V86({
        wasm_path: fileURLToPath(new URL('./v86.wasm', import.meta.resolve('v86'))),
        bios: { buffer: new Uint8Array(readFileSync(BIOS)).buffer },
        memory_size: MEMORY,
        fda: { buffer: floppyImage(name).buffer },
        autostart: true,
      });
      const serial: number[] = [];
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ${WANT_PASSES} pass markers in 100 s; COM1 said ${JSON.stringify(String.fromCharCode(...serial.slice(0, 64)))}`)), 100_000);
          emulator.add_listener('serial0-output-byte', (byte) => {
            serial.push(byte);
            if (byte === PASS_MARKER && countMarkers(serial) === WANT_PASSES) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        await emulator.stop();
        const cpu = (emulator as unknown as V86Internals).v86.cpu;
        // cpu.mem8 is a Proxy building a typed array on every access: read it once for the offset
        const ram = new Uint8Array(cpu.wasm_memory.buffer, cpu.mem8.byteOffset, MEMORY);
        const r = BOOT_IMAGES[name].check(ram, MEMORY);
        assert.equal(r.ok, true, r.message);
        assert.equal(serial[0], START_MARKER, 'A first: the region was zeroed and the pattern started');
        const markers = countMarkers(serial);
        assert.ok(markers >= WANT_PASSES);
        // the marker follows its pass: stopped between a pass's last page and its 'B', RAM is one ahead
        assert.ok(markers < 256, `${markers} markers: RAM's pass count (mod 256) cannot be compared`);
        assert.ok(r.passes === markers || r.passes === markers + 1, `${markers} markers, RAM at ${r.passes} passes: ${r.message}`);
        assert.ok(r.passes >= WANT_PASSES, r.message);
      } finally {
        await emulator.destroy();
      }
    });
  }
});
