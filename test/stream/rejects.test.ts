/**
 * Every rejection of the loader: class, code, exact stream offset and message text.
 *
 * Layout of the prefix most cases share (machine "livemig", one 16 KiB block "pc.ram"):
 *   0   header (8) + configuration 0x07 be32 7 "livemig" (12)
 *   20  START ram: 0x01 be32 2, 03 "ram", be32 0, be32 4
 *   37  MEM_SIZE be64 0x4004, 06 "pc.ram", be64 0x4000
 *   60  EOS
 *   68  footer 0x7e be32 2
 *   73  next section (PART 0x02 be32 2 in most cases)
 *   78  first record of that PART
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeltaError, LivemigError, StreamError } from '../../src/errors.js';
import { loadMigrationStream } from '../../src/stream/index.js';
import type { MigrationStreamWriter } from '../../src/stream/index.js';
import { PAGE, ascii, assertRejects, buildStream, chunked, load, RecordingTarget } from './helpers.js';

const BLOCK = 4 * PAGE;
const AFTER_SETUP = 73;
const RECORDS = 78;

function setup(w: MigrationStreamWriter): void {
  w.header('livemig');
  w.ramSetup(2, [{ idstr: 'pc.ram', lengthBytes: BLOCK }]);
}

/** header + setup + PART 2 + `records` (raw) + EOS, footer, EOF. */
function part(records: (w: MigrationStreamWriter) => void): Promise<Uint8Array> {
  return buildStream((w) => {
    setup(w);
    w.sectionPart(2);
    records(w);
    w.ram.eos();
    w.footer(2);
    w.eof();
  });
}

function patch(bytes: Uint8Array, at: number, values: number[]): Uint8Array {
  const copy = bytes.slice();
  copy.set(values, at);
  return copy;
}

const VALID = await part((w) => w.ram.zero('pc.ram', 0, 0));

/** An XBRLE delta that changes nothing: 16 × (255, 0) + (16, 0) covers the page. */
const XBRLE_IDENTITY = new Uint8Array([...Array.from({ length: 16 }, () => [255, 0]).flat(), 16, 0]);

test('the shared prefix is where the header comment says', async () => {
  const { result } = await load(VALID);
  assert.deepEqual(result.sections.map((s) => s.offset), [20, AFTER_SETUP]);
});

// ---- header and configuration ----

test('rejects: bad magic', async () => {
  await assertRejects(patch(VALID, 3, [0x58]), {
    offset: 0,
    message: 'Not a migration stream (magic 0x51455658, expected 0x5145564d "QEVM") at stream offset 0 in file header',
  });
});

test('rejects: version 2 and other versions', async () => {
  await assertRejects(patch(VALID, 4, [0, 0, 0, 2]), {
    offset: 4,
    message: 'SaveVM v2 format is obsolete and no longer supported at stream offset 4 in file header',
  });
  await assertRejects(patch(VALID, 4, [0, 0, 0, 4]), {
    offset: 4,
    message: 'Unsupported migration stream version 4 (expected 3) at stream offset 4 in file header',
  });
});

test('rejects: missing configuration section', async () => {
  await assertRejects(patch(VALID, 8, [0x01]), {
    offset: 8,
    message: 'Configuration section missing (byte 0x01, expected 0x07) at stream offset 8 in configuration section',
  });
});

test('rejects: machine name checked with QEMU prefix rule when expected', async () => {
  await assertRejects(VALID, { offset: 13, message: "Machine type received is 'livemig' and local is 'pc-i440fx-7.2' at stream offset 13 in configuration section" }, { expectMachine: 'pc-i440fx-7.2' });
  const pc = await buildStream((w) => {
    w.header('pc');
    w.eof();
  });
  assert.equal((await load(pc, { expectMachine: 'pc-i440fx-7.2' })).result.machineName, 'pc');
  const empty = await buildStream((w) => {
    w.header('');
    w.eof();
  });
  assert.equal((await load(empty, { expectMachine: 'pc-i440fx-7.2' })).result.machineName, '');
});

test('rejects: machine name longer than the bound, before buffering it', async () => {
  await assertRejects(patch(VALID, 9, [0x7f, 0xff, 0xff, 0xff]), {
    name: 'StreamLimitError',
    code: 'STREAM_LIMIT',
    offset: 9,
    message: 'machine name of 2147483647 bytes is over the limit of 1024 at stream offset 9',
  });
});

function configWith(sub: (w: MigrationStreamWriter) => void): Promise<Uint8Array> {
  return buildStream((w) => {
    w.header('livemig');
    sub(w);
    w.eof();
  });
}

function subsection(w: MigrationStreamWriter, name: string): void {
  w.out.writeU8(0x05);
  w.out.writeU8(name.length);
  w.out.writeBytes(ascii(name));
  w.out.writeBe32(1);
}

test('configuration subsections: uuid accepted; other page sizes, capabilities and unknown ones rejected', async () => {
  const uuid = await configWith((w) => {
    subsection(w, 'configuration/uuid');
    w.out.writeBytes(new Uint8Array(16));
  });
  assert.equal((await load(uuid)).result.endedAt, 'eof');
  await assertRejects(
    await configWith((w) => {
      subsection(w, 'configuration/target-page-bits');
      w.out.writeBe32(16);
    }),
    { offset: 20, message: 'Received TARGET_PAGE_BITS is 16 but local is 12 at stream offset 20 in configuration subsection configuration/target-page-bits' },
  );
  await assertRejects(
    await configWith((w) => {
      subsection(w, 'configuration/capabilities');
      w.out.writeBe32(1);
      w.out.writeU8(15);
      w.out.writeBytes(ascii('x-ignore-shared'));
    }),
    { offset: 20, message: /^Capability x-ignore-shared is on in the stream; livemig loads only plain precopy RAM at stream offset 20/u },
  );
  await assertRejects(
    await configWith((w) => subsection(w, 'configuration/what')),
    { offset: 20, message: "Unknown configuration subsection 'configuration/what' at stream offset 20 in configuration subsection configuration/what" },
  );
});

// ---- sections and footers ----

test('rejects: unknown section type (including a subsection byte at top level)', async () => {
  for (const type of [0x05, 0x06, 0x07, 0x09, 0x7e, 0xff]) {
    await assertRejects(patch(VALID, AFTER_SETUP, [type]), {
      offset: AFTER_SETUP,
      message: `Unknown savevm section type ${type} at stream offset ${AFTER_SETUP} in section header`,
    });
  }
});

test('rejects: PART/END with an id no START announced', async () => {
  await assertRejects(patch(VALID, AFTER_SETUP + 1, [0, 0, 0, 9]), {
    offset: AFTER_SETUP,
    message: `Unknown savevm section 9 at stream offset ${AFTER_SETUP} in section header`,
  });
});

test('rejects: an unknown device, a ram section of another instance or version', async () => {
  const foo = await buildStream((w) => {
    setup(w);
    w.sectionFull(5, 'foo', 0, 1);
    w.footer(5);
    w.eof();
  });
  await assertRejects(foo, { offset: AFTER_SETUP, message: `Unknown savevm section or instance 'foo' 0 at stream offset ${AFTER_SETUP} in section 5 'foo'` });
  await assertRejects(patch(VALID, 20 + 9, [0, 0, 0, 1]), { offset: 20, message: "Unknown savevm section or instance 'ram' 1 at stream offset 20 in section 2 'ram'" });
  await assertRejects(patch(VALID, 20 + 13, [0, 0, 0, 3]), { offset: 20, message: "unsupported version 3 for 'ram' v4 at stream offset 20 in section 2 'ram'" });
});

test('rejects: missing and mismatched footers', async () => {
  await assertRejects(patch(VALID, 68, [0x7f]), { offset: 68, message: "Missing section footer for ram (byte 0x7f) at stream offset 68 in section 2 'ram'" });
  await assertRejects(patch(VALID, 69, [0, 0, 0, 3]), {
    offset: 68,
    message: "Mismatched section id in footer for ram - read 0x3 expected 0x2 at stream offset 68 in section 2 'ram'",
  });
});

test('rejects: PART for a section that is not iterative', async () => {
  const bytes = await buildStream((w) => {
    w.header('livemig');
    w.deviceState(3, new Uint8Array(2));
    w.sectionPart(3);
    w.footer(3);
    w.eof();
  });
  await assertRejects(bytes, { offset: 59, message: "PART for a section that is not iterative at stream offset 59 in section 3 'livemig-device'" });
});

test('rejects: livemig sections of another version or instance; device state over its bound', async () => {
  const dev = await buildStream((w) => {
    w.header('livemig');
    w.deviceState(3, new Uint8Array(100));
    w.eof();
  });
  await assertRejects(patch(dev, 20 + 24, [0, 0, 0, 2]), { offset: 20, message: "unsupported version 2 for 'livemig-device' v1 at stream offset 20 in section 3 'livemig-device'" });
  await assertRejects(patch(dev, 20 + 20, [0, 0, 0, 1]), { offset: 20, message: "Unknown savevm section or instance 'livemig-device' 1 at stream offset 20 in section 3 'livemig-device'" });
  await assertRejects(dev, { name: 'StreamLimitError', code: 'STREAM_LIMIT', offset: 48, message: 'device state of 100 bytes is over the limit of 99 bytes at stream offset 48' }, { maxDeviceStateBytes: 99 });
});

test('rejects: unsupported commands and bad command lengths', async () => {
  const cmd = (c: number, len: number): Promise<Uint8Array> =>
    buildStream((w) => {
      w.header('livemig');
      w.out.writeU8(0x08);
      w.out.writeBe16(c);
      w.out.writeBe16(len);
      w.out.writeBytes(new Uint8Array(len));
      w.eof();
    });
  await assertRejects(await cmd(2, 4), { offset: 20, message: 'Unsupported migration command 2 (length 4) at stream offset 20 in command' });
  await assertRejects(await cmd(11, 1), { offset: 20, message: 'SWITCHOVER_START received with bad length - expecting 0, received 1 at stream offset 20 in command' });
});

// ---- RAM records ----

function rawRecord(hi: number, lo: number, idstr?: string): (w: MigrationStreamWriter) => void {
  return (w) => {
    w.out.writeBe64Parts(hi, lo);
    if (idstr !== undefined) {
      w.out.writeU8(idstr.length);
      w.out.writeBytes(ascii(idstr));
    }
  };
}

test('rejects: unknown flag combinations, with QEMU’s exact-equality dispatch', async () => {
  for (const flags of [0x001, 0x00a, 0x00c, 0x048, 0x080, 0x100, 0x200, 0x050, 0x000, 0x020]) {
    await assertRejects(await part(rawRecord(0, flags, 'pc.ram')), {
      offset: RECORDS,
      message: `Unknown combination of migration flags: 0x${flags.toString(16)} at stream offset ${RECORDS} in ram record`,
    });
  }
  // bits 0x400 and 0x800 are flags to a 4 KiB-page loader: a misaligned offset shows up here
  for (const flags of [0x400, 0x800, 0x808]) {
    await assertRejects(await part(rawRecord(0, flags, 'pc.ram')), {
      offset: RECORDS,
      message: `Unknown combination of migration flags: 0x${flags.toString(16)} (bits 0x${(flags & 0xc00).toString(16)} are not flags: an offset not aligned to the 4096-byte page?) at stream offset ${RECORDS} in ram record`,
    });
  }
});

test('rejects: CONTINUE with no block named before', async () => {
  await assertRejects(await part(rawRecord(0, 0x22)), {
    offset: RECORDS,
    message: `RAM record has the CONTINUE flag but no block was named before it (Ack, bad migration stream!) at stream offset ${RECORDS} in ram record`,
  });
});

test('rejects: a page record before any block list', async () => {
  const bytes = await buildStream((w) => {
    w.header('livemig');
    w.sectionStart(2, 'ram', 0, 4);
    w.ram.zero('pc.ram', 0, 0);
    w.ram.eos();
    w.footer(2);
    w.eof();
  });
  await assertRejects(bytes, { offset: 37, message: "Unknown RAM block 'pc.ram' (Can't find block) at stream offset 37 in ram record pc.ram" });
});

test('rejects: unknown block', async () => {
  await assertRejects(await part((w) => w.ram.zero('nope', 0, 0)), {
    offset: RECORDS,
    message: `Unknown RAM block 'nope' (Can't find block) at stream offset ${RECORDS} in ram record nope`,
  });
});

test('rejects: offsets outside the block, above 4 GiB, and beyond 2^53', async () => {
  await assertRejects(await part((w) => w.ram.zero('pc.ram', BLOCK, 0)), {
    offset: RECORDS,
    message: `Illegal RAM offset 0x4000 in block 'pc.ram' of length 0x4000 at stream offset ${RECORDS} in ram record pc.ram+0x4000`,
  });
  // 0x1_0000_1000 must not be taken for 0x1000
  await assertRejects(await part((w) => w.ram.page('pc.ram', 0x1_0000_1000, new Uint8Array(PAGE))), {
    offset: RECORDS,
    message: `Illegal RAM offset 0x100001000 in block 'pc.ram' of length 0x4000 at stream offset ${RECORDS} in ram record pc.ram+0x100001000`,
  });
  await assertRejects(await part(rawRecord(0xffff_ffff, 0xffff_f002, 'pc.ram')), {
    offset: RECORDS,
    message: `Illegal RAM offset 0xfffffffffffff000 in block 'pc.ram' of length 0x4000 at stream offset ${RECORDS} in ram record pc.ram+0xfffffffffffff000`,
  });
  // a later CONTINUE record is checked too
  await assertRejects(
    await part((w) => {
      w.ram.zero('pc.ram', 0, 0);
      w.ram.zero('pc.ram', 0x8000, 0);
    }),
    { offset: RECORDS + 16, message: `Illegal RAM offset 0x8000 in block 'pc.ram' of length 0x4000 at stream offset ${RECORDS + 16} in ram record pc.ram+0x8000` },
  );
});

test('rejects: XBZRLE with a wrong encoding byte, a length over a page, a delta that does not decode', async () => {
  const xb = (enc: number, len: number, payload: number[] = []): Promise<Uint8Array> =>
    part((w) => {
      rawRecord(0, 0x40, 'pc.ram')(w);
      w.out.writeU8(enc);
      w.out.writeBe16(len);
      w.out.writeBytes(new Uint8Array(payload));
    });
  const enc = RECORDS + 15;
  for (const e of [0, 3, 0xff]) {
    await assertRejects(await xb(e, 0), {
      offset: enc,
      message: `Failed to load XBZRLE page - wrong compression (encoding byte 0x${e.toString(16).padStart(2, '0')}; 0x01 is XBZRLE, 0x02 XBRLE) at stream offset ${enc} in XBZRLE record pc.ram+0x0`,
    });
  }
  await assertRejects(await xb(1, 4097), {
    offset: enc + 1,
    message: `Failed to load XBZRLE page - len overflow (4097 bytes exceeds the page size 4096) at stream offset ${enc + 1} in XBZRLE record pc.ram+0x0`,
  });
  await assertRejects(await xb(2, 0xffff), { offset: enc + 1, message: /len overflow \(65535 bytes/u });
  const payload = enc + 3;
  await assert.rejects(load(await xb(1, 2, [0x00, 0x00])), (e: unknown) => {
    assert.ok(e instanceof StreamError);
    assert.equal(e.offset, payload + 1);
    assert.equal(
      e.message,
      `Failed to load XBZRLE page - decode error (XBZRLE: truncated delta: a changed run needs a length and at least one byte, 1 left at payload offset 1) at stream offset ${payload + 1} in XBZRLE record pc.ram+0x0`,
    );
    assert.ok(e.cause instanceof DeltaError);
    return true;
  });
  // a zero run that passes the page end (0x80 0x40 = 8192)
  await assertRejects(await xb(1, 4, [0x80, 0x40, 0x01, 0xaa]), { offset: payload, message: /decode error \(XBZRLE: zero run of 8192 bytes ends at page offset 8192, past the 4096-byte page/u });
  // XBRLE: runs that do not cover exactly one page
  await assertRejects(await xb(2, 2, [0x10, 0x01]), { offset: payload + 2, message: /decode error \(XBRLE: runs expand to 16 bytes, not the 4096-byte page/u });
  // len 0 is a no-op for both encodings
  await load(await xb(1, 0));
  await load(await xb(2, 0));
});

test('rejects: a delta that fails leaves the page as it was', async () => {
  const bytes = await part((w) => {
    w.ram.zero('pc.ram', 0, 0x11);
    w.out.writeBe64Parts(0, 0x60);
    w.out.writeU8(1);
    w.out.writeBe16(4);
    w.out.writeBytes(new Uint8Array([0x00, 0x02, 0xaa, 0xbb]));
    w.out.writeBe64Parts(0, 0x60);
    w.out.writeU8(1);
    w.out.writeBe16(3);
    w.out.writeBytes(new Uint8Array([0x10, 0x05, 0xcc]));
  });
  const target = new RecordingTarget();
  await assert.rejects(load(bytes, {}, undefined, target), { name: 'StreamError' });
  const page = target.memory.get('pc.ram')!;
  assert.deepEqual([...page.subarray(0, 4)], [0xaa, 0xbb, 0x11, 0x11]);
  assert.equal(page[0x10], 0x11);
});

// ---- MEM_SIZE ----

function memSize(entries: { idstr: string | Uint8Array; hi?: number; lo: number }[], totalLo: number, totalHi = 0): Promise<Uint8Array> {
  return buildStream((w) => {
    w.header('livemig');
    w.sectionStart(2, 'ram', 0, 4);
    w.out.writeBe64Parts(totalHi, totalLo | 0x04);
    for (const e of entries) {
      const name = typeof e.idstr === 'string' ? ascii(e.idstr) : e.idstr;
      w.out.writeU8(name.length);
      w.out.writeBytes(name);
      w.out.writeBe64Parts(e.hi ?? 0, e.lo);
    }
    w.ram.eos();
    w.footer(2);
    w.eof();
  });
}

test('rejects: a RAM total over maxRamBytes before reading the list or allocating (1 TiB)', async () => {
  const bytes = await memSize([{ idstr: 'pc.ram', hi: 0x100, lo: 0 }], 0, 0x100);
  const target = new RecordingTarget();
  await assert.rejects(load(bytes, { maxRamBytes: 4 * 2 ** 30 }, undefined, target), (e: unknown) => {
    assert.ok(e instanceof LivemigError);
    assert.equal(e.name, 'StreamLimitError');
    assert.equal(e.code, 'STREAM_LIMIT');
    assert.equal((e as StreamError).offset, 37);
    assert.equal(
      e.message,
      'The stream advertises 1099511627776 bytes (1 TiB) of RAM, over the limit of 4294967296 bytes (4 GiB) (--max-ram) at stream offset 37',
    );
    return true;
  });
  assert.equal(target.offered, null, 'setupRam must not be called');
  // 2^64 - 4096: over any bound, reported in hex
  await assertRejects(await memSize([], 0xffff_f000, 0xffff_ffff), {
    name: 'StreamLimitError',
    code: 'STREAM_LIMIT',
    offset: 37,
    message: /^The stream advertises 0xfffffffffffff000 bytes of RAM/u,
  });
});

test('rejects: block lists whose lengths do not land exactly on the total', async () => {
  await assertRejects(await memSize([{ idstr: 'a', lo: 0x8000 }], 0x4000), {
    offset: 45,
    message: "RAM block 'a' of 0x8000 bytes overruns the advertised total 0x4000 (0x4000 left) at stream offset 45 in ram record MEM_SIZE block 'a'",
  });
  await assertRejects(await memSize([{ idstr: 'a', lo: 0x2000 }, { idstr: 'b', lo: 0x4000 }], 0x4000), {
    offset: 55,
    message: "RAM block 'b' of 0x4000 bytes overruns the advertised total 0x4000 (0x2000 left) at stream offset 55 in ram record MEM_SIZE block 'b'",
  });
  // a total larger than the list: the EOS and footer bytes are read as another entry
  await assertRejects(await memSize([{ idstr: 'a', lo: 0x2000 }], 0x4000), { offset: 55, message: /^RAM block with an empty name at stream offset 55/u });
});

test('rejects: bad block entries', async () => {
  await assertRejects(await memSize([{ idstr: 'a', lo: 0x1800 }, { idstr: 'b', lo: 0x800 }], 0x2000), {
    offset: 45,
    message: "RAM block 'a' length 0x1800 is not a positive multiple of the page size 4096 at stream offset 45 in ram record MEM_SIZE block 'a'",
  });
  await assertRejects(await memSize([{ idstr: 'a', lo: 0 }, { idstr: 'b', lo: 0x1000 }], 0x1000), { offset: 45, message: /length 0x0 is not a positive multiple/u });
  await assertRejects(await memSize([{ idstr: 'a', lo: 0x1000 }, { idstr: 'a', lo: 0x1000 }], 0x2000), {
    offset: 55,
    message: "RAM block 'a' is listed twice at stream offset 55 in ram record MEM_SIZE block 'a'",
  });
  await assertRejects(await memSize([{ idstr: '', lo: 0x1000 }], 0x1000), { offset: 45, message: "RAM block with an empty name at stream offset 45 in ram record MEM_SIZE block ''" });
  await assertRejects(await memSize([{ idstr: new Uint8Array([0x61, 0xff]), lo: 0x1000 }], 0x1000), { offset: 45, message: 'RAM block name is not valid UTF-8 at stream offset 45 in ram record' });
});

test('rejects: more blocks than the bound', async () => {
  const n = 4097;
  const bytes = await memSize(Array.from({ length: n }, (_, i) => ({ idstr: `b${i}`, lo: PAGE })), n * PAGE);
  await assertRejects(bytes, { name: 'StreamLimitError', code: 'STREAM_LIMIT', message: /^RAM block list has more than 4096 blocks at stream offset \d+$/u });
});

test('rejects: a second block list', async () => {
  const bytes = await part((w) => w.ram.memSize([{ idstr: 'pc.ram', lengthBytes: BLOCK }]));
  await assertRejects(bytes, { offset: RECORDS, message: `RAM block list (MEM_SIZE) sent a second time at stream offset ${RECORDS} in ram record MEM_SIZE` });
});

test('the target decides: a refusal is wrapped (or passed through), wrong-sized memory is caught', async () => {
  const refusing = new RecordingTarget();
  refusing.setupRam = () => {
    throw new Error('no such block here');
  };
  await assert.rejects(load(VALID, {}, undefined, refusing), (e: unknown) => {
    assert.ok(e instanceof StreamError);
    assert.equal(e.offset, 37);
    assert.equal(e.message, 'RAM block list refused by the destination: no such block here at stream offset 37 in ram record MEM_SIZE');
    assert.ok(e.cause instanceof Error);
    return true;
  });
  const typed = new RecordingTarget();
  const mine = new LivemigError('STREAM_LIMIT', 'too big for me');
  typed.setupRam = () => {
    throw mine;
  };
  await assert.rejects(load(VALID, {}, undefined, typed), (e) => e === mine);
  const wrong = new RecordingTarget();
  wrong.setupRam = () => new Map([['pc.ram', new Uint8Array(PAGE)]]);
  await assert.rejects(load(VALID, {}, undefined, wrong), {
    name: 'StreamError',
    offset: 37,
    message: "Size mismatch: RAM block 'pc.ram' is 0x4000 bytes in the stream, 0x1000 at the destination at stream offset 37 in ram record MEM_SIZE",
  });
});

// ---- after EOF ----

test('after EOF: no VM description is fine; another byte is a warning; bad JSON and huge lengths are errors', async () => {
  const noDesc = await buildStream((w) => {
    setup(w);
    w.eof();
  });
  assert.equal((await load(noDesc)).result.vmdesc, undefined);
  const other = await buildStream((w) => {
    setup(w);
    w.eof();
    w.out.writeU8(0x00);
  });
  const { result } = await load(other);
  assert.deepEqual(result.warnings, [`Expected vmdescription section, but got 0 at stream offset ${AFTER_SETUP + 1}`]);
  const bad = await buildStream((w) => {
    setup(w);
    w.eof();
    w.out.writeU8(0x06);
    w.out.writeBe32(3);
    w.out.writeBytes(ascii('{x}'));
  });
  await assertRejects(bad, { offset: AFTER_SETUP + 6, message: /^VM description is not valid JSON \(.*\) at stream offset 79 in VM description$/u });
  const huge = patch(bad, AFTER_SETUP + 2, [0x7f, 0xff, 0xff, 0xff]);
  await assertRejects(huge, { name: 'StreamLimitError', code: 'STREAM_LIMIT', offset: AFTER_SETUP + 2, message: /^VM description of 2147483647 bytes \(2\.0 GiB\) is over the limit of 16777216 bytes \(16 MiB\)/u });
  const ignored = (await load(bad, { readVmdesc: false })).result;
  assert.equal(ignored.bytesRead, AFTER_SETUP + 1);
});

// ---- truncation ----

test('truncation: cutting a valid stream at every offset gives a StreamError (never a hang or another error)', async () => {
  const bytes = await buildStream((w) => {
    setup(w);
    w.sectionPart(2);
    w.ram.zero('pc.ram', 0, 0);
    w.ram.page('pc.ram', PAGE, new Uint8Array(PAGE).fill(1));
    w.ram.xbzrle('pc.ram', PAGE, 1, new Uint8Array([0x00, 0x01, 0x05]));
    w.ram.xbzrle('pc.ram', 2 * PAGE, 2, XBRLE_IDENTITY);
    w.ram.eos();
    w.footer(2);
    w.command(11);
    w.deviceState(3, new Uint8Array(40));
    w.digest(4, 'sha256', new Uint8Array(32));
    w.eof();
  });
  const full = await load(bytes);
  assert.equal(full.result.endedAt, 'eof');
  const pageEnd = RECORDS + 8 + 7 + 1 + 8 + PAGE; // after the ZERO and PAGE records
  for (let cut = 0; cut < bytes.length; cut++) {
    const input = bytes.subarray(0, cut);
    // whole, 97-byte chunks, and 1-byte chunks (all of it before the page, only after it beyond)
    const inPage = cut > RECORDS + 40 && cut <= pageEnd + 16;
    const feeds = [
      chunked(input),
      inPage && cut % 7 !== 0 ? null : chunked(input, [97]),
      inPage ? null : bytewiseAfter(input, cut < RECORDS + 40 ? 0 : pageEnd),
    ];
    for (const feed of feeds) {
      if (feed === null) continue;
      await assert.rejects(loadMigrationStream(feed, new RecordingTarget(), { maxRamBytes: 1 << 20 }), (e: unknown) => {
        assert.ok(e instanceof StreamError, `cut ${cut}: ${String(e)}`);
        assert.match(e.message, /^truncated /u, `cut ${cut}`);
        assert.ok(e.offset <= cut, `cut ${cut}: offset ${e.offset}`);
        return true;
      });
    }
  }
});

/** `bytes[0, from)` as one chunk, then one byte a chunk. */
async function* bytewiseAfter(bytes: Uint8Array, from: number): AsyncGenerator<Uint8Array> {
  if (from > 0) yield bytes.slice(0, Math.min(from, bytes.length));
  for (let i = from; i < bytes.length; i++) yield bytes.slice(i, i + 1);
}

test('truncation: an empty input', async () => {
  await assert.rejects(loadMigrationStream(chunked(new Uint8Array(0)), new RecordingTarget(), { maxRamBytes: 0 }), {
    name: 'StreamError',
    offset: 0,
    message: 'truncated file header: need 8 bytes, the stream ends after 0 at stream offset 0',
  });
});

test('bad options are refused before reading', async () => {
  await assert.rejects(loadMigrationStream(chunked(VALID), new RecordingTarget(), { maxRamBytes: -1 }), { name: 'InvalidArgumentError' });
  await assert.rejects(loadMigrationStream(chunked(VALID), new RecordingTarget(), {} as { maxRamBytes: number }), { name: 'InvalidArgumentError' });
  await assert.rejects(loadMigrationStream(chunked(VALID), new RecordingTarget(), { maxRamBytes: 1, vmdesc: { devices: 'x' } as never }), { name: 'InvalidArgumentError' });
});
