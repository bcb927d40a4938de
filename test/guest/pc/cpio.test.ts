import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CPIO_HEADER_SIZE, CPIO_TRAILER, CPIO_TYPE, pad4, writeCpio } from '../../../src/guest/pc/cpio.js';
import type { CpioEntry } from '../../../src/guest/pc/cpio.js';

/** One member as read back: every header field, the name and the data. */
interface ReadEntry {
  offset: number;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  devmajor: number;
  devminor: number;
  rdevmajor: number;
  rdevminor: number;
  check: number;
  name: string;
  data: Uint8Array;
}

/**
 * A reader written from the format's description, strict where the kernel is: magic, hex
 * fields, NUL-terminated names, headers at multiples of 4, and (stricter than the kernel)
 * padding that is all zeros and shorter than 4 bytes. Reads up to and including the trailer,
 * which must end the archive.
 */
function readCpio(bytes: Uint8Array): ReadEntry[] {
  const out: ReadEntry[] = [];
  const ascii = (from: number, n: number): string => String.fromCharCode(...bytes.subarray(from, from + n));
  const zeroPadding = (from: number, n: number): void => {
    assert.ok(n < 4, `padding of ${n} bytes at ${from}`);
    for (let i = 0; i < n; i++) assert.equal(bytes[from + i], 0, `padding byte at ${from + i}`);
  };
  let at = 0;
  for (;;) {
    assert.equal(at % 4, 0, `header at ${at} is not 4-aligned`);
    assert.ok(at + CPIO_HEADER_SIZE <= bytes.length, `truncated header at ${at}`);
    assert.equal(ascii(at, 6), '070701');
    const field = (i: number): number => {
      const text = ascii(at + 6 + 8 * i, 8);
      assert.match(text, /^[0-9a-fA-F]{8}$/);
      return parseInt(text, 16);
    };
    const [ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check] = Array.from({ length: 13 }, (_, i) => field(i)) as [number, number, number, number, number, number, number, number, number, number, number, number, number];
    const nameAt = at + CPIO_HEADER_SIZE;
    assert.ok(namesize >= 1 && nameAt + namesize <= bytes.length);
    assert.equal(bytes[nameAt + namesize - 1], 0, 'name not NUL-terminated');
    const name = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(nameAt, nameAt + namesize - 1));
    const dataAt = nameAt + namesize + pad4(CPIO_HEADER_SIZE + namesize);
    zeroPadding(nameAt + namesize, dataAt - nameAt - namesize);
    assert.ok(dataAt + filesize <= bytes.length, `truncated data of ${name}`);
    const data = bytes.slice(dataAt, dataAt + filesize);
    zeroPadding(dataAt + filesize, pad4(filesize));
    out.push({ offset: at, ino, mode, uid, gid, nlink, mtime, devmajor, devminor, rdevmajor, rdevminor, check, name, data });
    at = dataAt + filesize + pad4(filesize);
    if (name === CPIO_TRAILER) break;
  }
  assert.equal(at, bytes.length, 'bytes after the trailer');
  return out;
}

const utf8 = new TextEncoder();

// Path components: ASCII and multi-byte UTF-8, never "/", NUL, "." or "..", never the trailer's name.
const component = fc
  .string({ unit: fc.constantFrom('a', 'b', 'Z', '0', '-', '_', '.', ' ', 'é', '✓', '𝄞'), minLength: 1, maxLength: 12 })
  .filter((s) => s !== '.' && s !== '..' && s !== CPIO_TRAILER);
const common = { mode: fc.integer({ min: 0, max: 0o7777 }), uid: fc.nat(0xffff), gid: fc.nat(0xffff), mtime: fc.nat(0xffffffff) };
const member = fc.oneof(
  fc.record({ type: fc.constant('directory' as const), ...common }),
  fc.record({ type: fc.constant('file' as const), data: fc.uint8Array({ maxLength: 300 }), ...common }),
  fc.record({ type: fc.constant('symlink' as const), target: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0')), ...common }),
  fc.record({ type: fc.constantFrom('char-device' as const, 'block-device' as const), major: fc.nat(0xfff), minor: fc.nat(0xfffff), ...common }),
);

/** Random archives that satisfy the writer's rules: unique names, every parent an earlier directory. */
const archive = fc.array(fc.record({ parent: fc.nat(), base: component, member, defaultMode: fc.boolean() }), { maxLength: 25 }).map((specs) => {
  const dirs = [''];
  const names = new Set<string>();
  const entries: CpioEntry[] = [];
  for (const s of specs) {
    const parent = dirs[s.parent % dirs.length]!;
    const name = parent === '' ? s.base : `${parent}/${s.base}`;
    if (names.has(name)) continue;
    names.add(name);
    const e = { ...s.member, name } as CpioEntry;
    if (s.defaultMode) delete e.mode;
    entries.push(e);
    if (e.type === 'directory') dirs.push(name);
  }
  return entries;
});

const DEFAULT_PERM = { directory: 0o755, file: 0o644, symlink: 0o777, 'char-device': 0o600, 'block-device': 0o600 };

test('cpio: every entry reads back with its name, type, mode, ids, time and contents', () => {
  fc.assert(
    fc.property(archive, (entries) => {
      const bytes = writeCpio(entries);
      const read = readCpio(bytes);
      assert.equal(read.length, entries.length + 1);
      const inos = new Set<number>();
      entries.forEach((e, i) => {
        const r = read[i]!;
        assert.equal(r.name, e.name);
        assert.equal(r.mode, CPIO_TYPE[e.type] | (e.mode ?? DEFAULT_PERM[e.type]));
        assert.equal(r.uid, e.uid ?? 0);
        assert.equal(r.gid, e.gid ?? 0);
        assert.equal(r.mtime, e.mtime ?? 0);
        assert.equal(r.nlink, e.type === 'directory' ? 2 : 1);
        assert.equal(r.check, 0);
        assert.deepEqual([r.devmajor, r.devminor], [0, 0]);
        const device = e.type === 'char-device' || e.type === 'block-device';
        assert.deepEqual([r.rdevmajor, r.rdevminor], device ? [e.major, e.minor] : [0, 0]);
        const data = e.type === 'file' ? e.data : e.type === 'symlink' ? utf8.encode(e.target) : new Uint8Array(0);
        assert.deepEqual(r.data, data);
        assert.ok(r.ino !== 0 && !inos.has(r.ino), 'ino not distinct');
        inos.add(r.ino);
      });
      const t = read.at(-1)!;
      assert.deepEqual({ ...t, data: [...t.data] }, { offset: t.offset, ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0, check: 0, name: CPIO_TRAILER, data: [] });
    }),
    { numRuns: 300 },
  );
});

test('cpio: the length is the sum of 4-padded headers+names and 4-padded data, a multiple of 4', () => {
  fc.assert(
    fc.property(archive, (entries) => {
      const bytes = writeCpio(entries);
      let expected = 0;
      for (const e of [...entries, { name: CPIO_TRAILER, type: 'directory' as const }]) {
        const head = CPIO_HEADER_SIZE + utf8.encode(e.name).length + 1;
        const size = e.type === 'file' ? e.data.length : e.type === 'symlink' ? utf8.encode(e.target).length : 0;
        expected += head + pad4(head) + size + pad4(size);
      }
      assert.equal(bytes.length, expected);
      assert.equal(bytes.length % 4, 0);
    }),
    { numRuns: 200 },
  );
});

test('cpio: the same entries give the same bytes', () => {
  fc.assert(fc.property(archive, (entries) => assert.deepEqual(writeCpio(entries), writeCpio(entries))), { numRuns: 50 });
});

test('pad4: the bytes to the next multiple of 4', () => {
  fc.assert(
    fc.property(fc.nat(1 << 30), (n) => {
      const p = pad4(n);
      assert.ok(p >= 0 && p < 4 && (n + p) % 4 === 0);
    }),
  );
});

test('cpio: golden archive (a directory, a file with an mtime, a symlink, /dev/console)', () => {
  const bytes = writeCpio([
    { type: 'directory', name: 'bin' },
    { type: 'file', name: 'bin/hi', mode: 0o755, mtime: 1_700_000_000, data: utf8.encode('hi\n') },
    { type: 'symlink', name: 'sh', target: 'bin/hi' },
    { type: 'char-device', name: 'console', major: 5, minor: 1 },
  ]);
  // Header fields in order: ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check.
  const golden =
    '070701' + '00000001' + '000041ed' + '00000000' + '00000000' + '00000002' + '00000000' + '00000000' + '00000000' + '00000000' + '00000000' + '00000000' + '00000004' + '00000000' +
    'bin\0' + '\0\0' + // 110 + 4 = 114, padded to 116
    '070701' + '00000002' + '000081ed' + '00000000' + '00000000' + '00000001' + '6553f100' + '00000003' + '00000000' + '00000000' + '00000000' + '00000000' + '00000007' + '00000000' +
    'bin/hi\0' + '\0\0\0' + // 117, padded to 120
    'hi\n' + '\0' +
    '070701' + '00000003' + '0000a1ff' + '00000000' + '00000000' + '00000001' + '00000000' + '00000006' + '00000000' + '00000000' + '00000000' + '00000000' + '00000003' + '00000000' +
    'sh\0' + '\0\0\0' + // 113, padded to 116
    'bin/hi' + '\0\0' +
    '070701' + '00000004' + '00002180' + '00000000' + '00000000' + '00000001' + '00000000' + '00000000' + '00000000' + '00000000' + '00000005' + '00000001' + '00000008' + '00000000' +
    'console\0' + '\0\0' + // 118, padded to 120
    '070701' + '00000000' + '00000000' + '00000000' + '00000000' + '00000001' + '00000000' + '00000000' + '00000000' + '00000000' + '00000000' + '00000000' + '0000000b' + '00000000' +
    'TRAILER!!!\0' + '\0\0\0'; // 121, padded to 124
  assert.equal(golden.length, 608);
  assert.equal(Buffer.from(bytes).toString('latin1'), golden);
});

test('cpio: refuses what the kernel would drop or misread', () => {
  const file = (name: string): CpioEntry => ({ type: 'file', name, data: new Uint8Array(1) });
  const refused: [string, CpioEntry[]][] = [
    ['missing parent', [file('bin/sh')]],
    ['parent is a file', [file('bin'), file('bin/sh')]],
    ['duplicate', [file('a'), file('a')]],
    ['absolute', [file('/init')]],
    ['empty', [file('')]],
    ['empty component', [{ type: 'directory', name: 'a' }, file('a//b')]],
    ['dot-dot', [{ type: 'directory', name: 'a' }, file('a/../b')]],
    ['NUL', [file('a\0b')]],
    ['trailer name', [file(CPIO_TRAILER)]],
    ['mode with type bits', [{ type: 'file', name: 'x', data: new Uint8Array(0), mode: 0o100644 }]],
    ['negative mtime', [{ type: 'directory', name: 'x', mtime: -1 }]],
    ['device number too big', [{ type: 'char-device', name: 'x', major: 2 ** 32, minor: 0 }]],
    ['empty symlink target', [{ type: 'symlink', name: 'x', target: '' }]],
  ];
  for (const [why, entries] of refused) assert.throws(() => writeCpio(entries), RangeError, why);
  // without the parent rule, an orphan is written (for archives not meant for the kernel)
  assert.equal(readCpio(writeCpio([file('bin/sh')], { requireParents: false }))[0]!.name, 'bin/sh');
});
