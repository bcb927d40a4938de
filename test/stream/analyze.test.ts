import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  analyzeMigrationStream,
  blockFileName,
  findVmdesc,
  formatAnalysis,
  readVmdescFromFile,
} from '../../src/stream/index.js';
import type { MigrationStreamWriter, VmDescription, VmdescDevice } from '../../src/stream/index.js';
import { PAGE, ascii, buildStream, chunked } from './helpers.js';
import { RICH, writeScenario } from './scenario.js';

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'livemig-analyze-'));
}

test('analyze: sections with per-section counts, totals, delta statistics, blocks and devices', async () => {
  const w = await writeScenario(RICH);
  const s = await analyzeMigrationStream(chunked(w.bytes, [777]));
  assert.equal(s.machineName, 'livemig');
  assert.equal(s.endedAt, 'eof');
  assert.equal(s.bytesRead, w.bytes.length);
  assert.deepEqual(s.totals, w.counts);
  assert.deepEqual(s.sections.map((x) => `${x.type}:${x.idstr}:${x.records.page}/${x.records.zero}/${x.records.xbzrle}/${x.records.xbrle}`), [
    'start:ram:0/0/0/0',
    'part:ram:22/2/0/0',
    'part:ram:1/0/3/2',
    'part:ram:0/0/0/0',
    'part:ram:0/1/1/0',
    'end:ram:1/1/0/0',
    'end:ram:0/0/0/0',
    'full:livemig-device:0/0/0/0',
    'full:livemig-digest:0/0/0/0',
  ]);
  assert.equal(s.xbzrle.records, w.counts.xbzrle);
  assert.equal(s.xbrle.records, w.counts.xbrle);
  assert.equal(s.xbzrle.minBytes, 0, 'an unchanged page is a 0-byte XBZRLE record');
  assert.ok(s.xbzrle.maxBytes > 20 && s.xbzrle.maxBytes <= PAGE);
  assert.equal(s.xbzrle.histogram.reduce((n, b) => n + b.count, 0), s.xbzrle.records);
  assert.equal(s.xbzrle.histogram[0]!.count, 1);
  assert.equal(s.xbzrle.averageBytes, Math.round((s.xbzrle.payloadBytes / s.xbzrle.records) * 100) / 100);
  assert.deepEqual(s.blocks.map((b) => [b.idstr, b.lengthBytes, b.sha256]), [...w.memory].map(([id, m]) => [id, m.length, sha256(m)]));
  assert.deepEqual(s.blocks[1]!.records, { memSize: 0, zero: 1, page: 1, xbzrle: 0, xbrle: 0, eos: 0 });
  assert.equal(s.devices.livemigDeviceBytes, RICH.device!.length);
  // RICH's digest is made-up bytes: the RAM read does not match it
  const ram = createHash('sha256');
  for (const m of w.memory.values()) ram.update(m);
  assert.deepEqual(s.devices.digest, { algorithm: 'sha256', hex: Buffer.from(RICH.digest!).toString('hex'), matches: false, computed: ram.digest('hex') });
  assert.deepEqual(s.vmdesc, { inStream: true, given: false, devices: 2 });
  // the JSON form is plain data: no NaN, no Infinity, no undefined holes
  const json = JSON.stringify(s);
  assert.doesNotMatch(json, /NaN|Infinity|null/u);
  assert.deepEqual(JSON.parse(json), s);
  const text = formatAnalysis(s);
  assert.match(text, /^Machine: livemig$/mu);
  assert.match(text, /^ {2}\/rom@etc\/acpi\/tables +0x2000 +[0-9a-f]{64}$/mu);
  assert.match(text, /^XBZRLE pages: 4 records, \d+ payload bytes, delta length min 0 \/ avg [\d.]+ \/ max \d+$/mu);
  assert.match(text, /^ {2}livemig-digest: sha256 00070e15/mu);
  assert.match(text, /^RAM digest: DOES NOT MATCH the stream's livemig-digest \(sha256\): the RAM read gives [0-9a-f]{64}$/mu);
});

/** RICH with the digest of its own RAM (sha256 of every block in block order, as a source sends it). */
async function richWithTrueDigest(): Promise<{ bytes: Uint8Array; hex: string }> {
  const first = await writeScenario(RICH);
  const h = createHash('sha256');
  for (const b of RICH.blocks) h.update(first.memory.get(b.idstr)!);
  const digest = h.digest();
  return { bytes: (await writeScenario({ ...RICH, digest })).bytes, hex: digest.toString('hex') };
}

test('analyze: the RAM read is checked against the stream\'s livemig-digest', async () => {
  const good = await richWithTrueDigest();
  const s = await analyzeMigrationStream(chunked(good.bytes, [1000]));
  assert.deepEqual(s.devices.digest, { algorithm: 'sha256', hex: good.hex, matches: true, computed: good.hex });
  assert.match(formatAnalysis(s), /^RAM digest: matches the stream's livemig-digest \(sha256\)$/mu);

  const unknown = await buildStream((w) => {
    w.header();
    w.ramSetup(2, [{ idstr: 'pc.ram', lengthBytes: PAGE }]);
    w.sectionEnd(2);
    w.ram.eos();
    w.footer(2);
    w.digest(4, 'md5', new Uint8Array(16));
    w.eof();
  });
  const u = await analyzeMigrationStream(chunked(unknown));
  assert.deepEqual(u.devices.digest, { algorithm: 'md5', hex: '0'.repeat(32), unchecked: "unknown algorithm 'md5'" });
  assert.match(formatAnalysis(u), /^RAM digest: not checked against the stream's livemig-digest \(md5\): unknown algorithm 'md5'$/mu);

  const qemu = await analyzeMigrationStream(chunked(await qemuLike()), { vmdesc: { devices: [FOO, { name: 'bar', instance_id: 3, fields: [{ name: 'data', type: 'buffer', size: 4 }] }] } });
  assert.equal(qemu.devices.digest, undefined);
  assert.match(formatAnalysis(qemu), /^RAM digest: none in the stream \(no livemig-digest section\)$/mu);
});

test('analyze partial: a stream cut anywhere shows what was read before the cut, and the error', async () => {
  const { bytes } = await richWithTrueDigest();
  const whole = await analyzeMigrationStream(chunked(bytes));
  const head = (x: { type: string; id: number; idstr: string; offset: number }) => `${x.type}:${x.id}:${x.idstr}@${x.offset}`;
  const cuts = [0, 3, 8, 12, 20, ...Array.from({ length: Math.ceil(bytes.length / 997) }, (_, i) => 21 + i * 997), bytes.length - 1];
  let withSections = 0;
  for (const cut of cuts) {
    const part = bytes.subarray(0, cut);
    const s = await analyzeMigrationStream(chunked(part, [333]), { partial: true });
    const where = `cut at ${cut}`;
    assert.equal(s.endedAt, 'error', where);
    assert.equal(s.bytesRead, cut, where);
    assert.ok(s.error !== undefined && s.error.code === 'STREAM_INVALID', where);
    assert.ok(s.error.offset !== undefined && s.error.offset <= cut, where);
    // without `partial` the same error rejects
    await assert.rejects(analyzeMigrationStream(chunked(part)), { name: 'StreamError', message: s.error.message }, where);
    assert.equal(s.machineName, cut >= 13 + 'livemig'.length ? 'livemig' : '', where);
    // the sections read are the whole stream's first ones; all but the last whole
    assert.deepEqual(s.sections.map(head), whole.sections.slice(0, s.sections.length).map(head), where);
    for (let i = 0; i < s.sections.length - 1; i++) {
      assert.equal(s.sections[i]!.lengthBytes, whole.sections[i]!.lengthBytes, `${where}, section ${i}`);
      assert.deepEqual(s.sections[i]!.records, whole.sections[i]!.records, `${where}, section ${i}`);
    }
    const sum = { memSize: 0, zero: 0, page: 0, xbzrle: 0, xbrle: 0, eos: 0 };
    for (const x of s.sections) for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += x.records[k];
    assert.deepEqual(s.totals, sum, where);
    if (s.sections.length > 0) {
      withSections++;
      assert.deepEqual(s.blocks.map((b) => [b.idstr, b.lengthBytes]), whole.blocks.map((b) => [b.idstr, b.lengthBytes]), where);
    }
    // the digest is only checked on RAM that is complete
    if (s.devices.digest !== undefined) assert.equal(s.devices.digest.matches, true, where);
    assert.doesNotMatch(JSON.stringify(s), /NaN|Infinity|null/u, where);
    const text = formatAnalysis(s);
    assert.match(text, new RegExp(`^Stream: ${cut} bytes read, failed at stream offset ${s.error.offset} \\(what follows was read before the error\\)$`, 'mu'), where);
  }
  assert.ok(withSections > cuts.length / 2, 'most cuts fall after the first section');
  // a cut in the middle of the RAM: its records so far, and the RAM digest not checked
  const mid = await analyzeMigrationStream(chunked(bytes.subarray(0, Math.floor(bytes.length / 3))), { partial: true });
  assert.ok(mid.totals.page > 0 && mid.totals.page < whole.totals.page);
  assert.equal(mid.devices.digest, undefined);
});

test('analyze partial: bad options and extraction conflicts still reject; nothing is extracted from a failed stream', async () => {
  await assert.rejects(analyzeMigrationStream(chunked(new Uint8Array(4)), { partial: true, maxRamBytes: -1 }), { name: 'InvalidArgumentError' });
  const root = tempDir();
  try {
    const { bytes } = await richWithTrueDigest();
    const s = await analyzeMigrationStream(chunked(bytes.subarray(0, bytes.length - 100)), { partial: true, extractDir: join(root, 'x') });
    assert.ok(s.error !== undefined);
    assert.deepEqual(readdirSync(root), []);
    assert.ok(s.blocks.every((b) => b.file === undefined));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('analyze: --extract-ram writes each block to <dir>/<sanitized idstr>.bin', async () => {
  const dir = join(tempDir(), 'out');
  try {
    const w = await writeScenario(RICH);
    const s = await analyzeMigrationStream(chunked(w.bytes), { extractDir: dir });
    assert.deepEqual(readdirSync(dir).sort(), ['_rom_etc_acpi_tables.bin', 'pc.ram.bin', 'vga.vram.bin']);
    for (const b of s.blocks) {
      assert.equal(b.file, join(dir, blockFileName(b.idstr)));
      const data = readFileSync(b.file!);
      assert.equal(sha256(data), b.sha256);
      assert.ok(data.equals(w.memory.get(b.idstr)!));
    }
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});

test('analyze: file names keep [A-Za-z0-9._-] and replace everything else, staying inside the directory', () => {
  assert.equal(blockFileName('pc.ram'), 'pc.ram.bin');
  assert.equal(blockFileName('/rom@etc/acpi/tables'), '_rom_etc_acpi_tables.bin');
  assert.equal(blockFileName('0000:00:02.0/vga.vram'), '0000_00_02.0_vga.vram.bin');
  assert.equal(blockFileName('..'), '...bin');
  assert.equal(blockFileName('../../etc/passwd'), '.._.._etc_passwd.bin');
  assert.equal(blockFileName('a b\u00e9\u{1f600}'), 'a_b__.bin');
});

test('analyze: colliding extracted names are refused before anything is written', async () => {
  const root = tempDir();
  try {
    const bytes = await buildStream((w) => {
      w.header();
      w.ramSetup(2, [{ idstr: 'a/b', lengthBytes: PAGE }, { idstr: 'a_b', lengthBytes: PAGE }]);
      w.eof();
    });
    await assert.rejects(analyzeMigrationStream(chunked(bytes), { extractDir: join(root, 'x') }), {
      name: 'InvalidArgumentError',
      message: /RAM blocks 'a\/b' and 'a_b' would both be extracted to .*a_b\.bin/u,
    });
    assert.deepEqual(readdirSync(root), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('analyze: a stream advertising 1 TiB is refused before any allocation', async () => {
  const bytes = await buildStream((w) => {
    w.header();
    w.sectionStart(2, 'ram', 0, 4);
    w.out.writeBe64Parts(0x100, 0x04);
    w.out.writeU8(6);
    w.out.writeBytes(ascii('pc.ram'));
    w.out.writeBe64Parts(0x100, 0);
  });
  const before = process.memoryUsage().arrayBuffers;
  await assert.rejects(analyzeMigrationStream(chunked(bytes)), {
    name: 'StreamLimitError',
    code: 'STREAM_LIMIT',
    offset: 37,
    message: /advertises 1099511627776 bytes \(1 TiB\) of RAM, over the limit of 4294967296 bytes \(4 GiB\)/u,
  });
  await assert.rejects(analyzeMigrationStream(chunked(bytes), { maxRamBytes: 2 ** 41 }), { name: 'StreamLimitError', message: /cannot allocate 1099511627776 bytes/u });
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
});

// A QEMU-style device: fields, an array, a struct, a subsection (no length on the wire).
const FOO: VmdescDevice = {
  name: 'foo',
  instance_id: 0,
  vmsd_name: 'foo',
  version: 1,
  fields: [
    { name: 'a', type: 'uint32', size: 4 },
    { name: 'arr', array_len: 3, type: 'uint16', size: 2 },
    { name: 's', type: 'struct', struct: { vmsd_name: 's', version: 1, fields: [{ name: 'x', type: 'uint8', size: 1 }, { name: 'y', type: 'buffer', size: 4 }] }, size: 5 },
  ],
  subsections: [{ vmsd_name: 'foo/sub', version: 1, fields: [{ name: 'z', type: 'uint64', size: 8 }] }],
};

function fooBody(w: MigrationStreamWriter, subName = 'foo/sub'): void {
  w.out.writeBytes(new Uint8Array(4 + 6 + 5).fill(0x7e)); // footer-like bytes must not confuse the walk
  w.out.writeU8(0x05);
  w.out.writeU8(subName.length);
  w.out.writeBytes(ascii(subName));
  w.out.writeBe32(1);
  w.out.writeBe64(42);
}

function qemuLike(opts: { subName?: string; withVmdesc?: boolean } = {}): Promise<Uint8Array> {
  return buildStream((w) => {
    w.header('pc-i440fx-7.2');
    w.ramSetup(2, [{ idstr: 'pc.ram', lengthBytes: 4 * PAGE }, { idstr: '/rom@etc/acpi/rsdp', lengthBytes: PAGE }]);
    w.sectionEnd(2);
    w.ram.page('pc.ram', PAGE, new Uint8Array(PAGE).fill(3));
    w.ram.zero('/rom@etc/acpi/rsdp', 0, 9);
    w.ram.eos();
    w.footer(2);
    w.sectionFull(7, 'foo', 0, 1);
    fooBody(w, opts.subName);
    w.footer(7);
    w.sectionFull(8, 'bar', 3, 2);
    w.out.writeBe32(0xdeadbeef);
    w.footer(8);
    w.eof();
    if (opts.withVmdesc !== false) w.vmdesc({ page_size: 4096, devices: [FOO, { name: 'bar', instance_id: 3, fields: [{ name: 'data', type: 'buffer', size: 4 }] }] });
  });
}

test('analyze: QEMU device sections are walked with the VM description', async () => {
  const bytes = await qemuLike();
  const found = findVmdesc(bytes.subarray(bytes.length - 1000));
  assert.ok(found !== null);
  const s = await analyzeMigrationStream(chunked(bytes, [5]), { vmdesc: found.json as VmDescription });
  assert.equal(s.endedAt, 'eof');
  assert.equal(s.stoppedAt, undefined);
  assert.deepEqual(s.devices.described, [
    { idstr: 'foo', instanceId: 0, versionId: 1, lengthBytes: 17 + 15 + 13 + 8 + 5 },
    { idstr: 'bar', instanceId: 3, versionId: 2, lengthBytes: 17 + 4 + 5 },
  ]);
  assert.deepEqual(s.vmdesc, { inStream: true, given: true, devices: 2 });
  assert.match(formatAnalysis(s), /^ {2}foo \(instance 0, version 1\): 58 bytes, skipped with the VM description$/mu);
});

test('analyze: without a description it stops cleanly at the first device section, RAM complete', async () => {
  const bytes = await qemuLike({ withVmdesc: false });
  const s = await analyzeMigrationStream(chunked(bytes));
  assert.equal(s.endedAt, 'unknown-device');
  assert.equal(s.stoppedAt?.idstr, 'foo');
  assert.equal(s.stoppedAt?.reason, 'RAM complete; stopped at device section foo (no description)');
  assert.equal(s.blocks[0]!.sha256, sha256(Uint8Array.from({ length: 4 * PAGE }, (_, i) => (i >= PAGE && i < 2 * PAGE ? 3 : 0))));
  assert.equal(s.blocks[1]!.sha256, sha256(new Uint8Array(PAGE).fill(9)));
  assert.match(formatAnalysis(s), /RAM complete; stopped at device section foo \(no description\) \(full section 7, instance 0, at offset \d+\)/u);
  // with a description that lacks the device, it stops there too and says so
  const partial = await analyzeMigrationStream(chunked(bytes), { vmdesc: { devices: [FOO] } });
  assert.equal(partial.stoppedAt?.reason, 'RAM complete; stopped at device section bar (not in the description)');
});

test('analyze: a description that does not match the stream is an error, not a silent misparse', async () => {
  await assert.rejects(analyzeMigrationStream(chunked(await qemuLike({ subName: 'foo/zzz' })), { vmdesc: { devices: [FOO] } }), {
    name: 'StreamError',
    message: /^VM description does not match the stream: subsection 'foo\/zzz' where 'foo\/sub' was described at stream offset \d+ in section 7 'foo'$/u,
  });
  const wrongSize: VmdescDevice = { ...FOO, fields: [{ name: 'a', type: 'uint32', size: 5 }] };
  await assert.rejects(analyzeMigrationStream(chunked(await qemuLike()), { vmdesc: { devices: [wrongSize] } }), { name: 'StreamError', message: /^Subsection foo\/sub not found/u });
});

test('readVmdescFromFile finds the JSON at the end of a file, or null', async () => {
  const dir = tempDir();
  try {
    const file = join(dir, 's.mig');
    writeFileSync(file, await qemuLike());
    const desc = await readVmdescFromFile(file);
    assert.deepEqual(desc?.devices.map((d) => d.name), ['foo', 'bar']);
    writeFileSync(file, await qemuLike({ withVmdesc: false }));
    assert.equal(await readVmdescFromFile(file), null);
    writeFileSync(file, new Uint8Array(0));
    assert.equal(await readVmdescFromFile(file), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
