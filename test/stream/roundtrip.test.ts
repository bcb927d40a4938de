import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RamFlag } from '../../src/stream/index.js';
import { buildStream, load, prng, toHex, RecordingTarget, PAGE } from './helpers.js';
import { RICH, writeScenario } from './scenario.js';
import type { Scenario } from './scenario.js';

test('round trip: every record kind, several blocks, odd names, device state and digest', async () => {
  const w = await writeScenario(RICH, 1000);
  const { result, target } = await load(w.bytes);
  assert.equal(result.endedAt, 'eof');
  assert.equal(result.machineName, 'livemig');
  assert.equal(result.bytesRead, w.bytes.length);
  assert.deepEqual(result.counts, w.counts);
  assert.ok(w.counts.xbzrle >= 4 && w.counts.xbrle >= 2 && w.counts.zero >= 4, JSON.stringify(w.counts));
  assert.deepEqual(result.blocks.map((b) => b.idstr), ['pc.ram', '/rom@etc/acpi/tables', 'vga.vram']);
  for (const [idstr, mem] of w.memory) assert.ok(Buffer.from(target.memory.get(idstr)!).equals(mem), `block ${idstr} differs`);
  assert.deepEqual(target.deviceState, RICH.device);
  assert.deepEqual(target.digest, { algorithm: 'sha256', digest: RICH.digest });
  assert.equal(result.sections.length, w.sections);
  assert.deepEqual(result.sections.map((s) => s.type), ['start', 'part', 'part', 'part', 'part', 'end', 'end', 'full', 'full']);
  assert.deepEqual(target.sectionTypes.slice(-2), ['full:livemig-device', 'full:livemig-digest']);
  const perSection = result.sections.map((s) => s.records.xbzrle + s.records.xbrle + s.records.page + s.records.zero);
  assert.deepEqual(perSection, [0, 24, 6, 0, 2, 2, 0, 0, 0]);
  // the vmdesc describes livemig's sections so that QEMU tools can skip them
  const vmdesc = result.vmdesc as { devices: { name: string; fields: { name: string; size: number }[] }[] };
  assert.deepEqual(vmdesc.devices.map((d) => d.name), ['livemig-device', 'livemig-digest']);
  assert.equal(vmdesc.devices[0]!.fields[1]!.size, RICH.device!.length);
  assert.deepEqual(vmdesc.devices[1]!.fields.map((f) => f.size), [1, 6, 1, 32]);
});

test('round trip: CONTINUE carries the last block across a section boundary', async () => {
  const w = await writeScenario(RICH);
  const { result } = await load(w.bytes);
  const second = result.sections.filter((s) => s.type === 'part')[1]!;
  const first = w.bytes.subarray(second.offset + 5, second.offset + 13);
  assert.equal(first[7]! & RamFlag.Continue, RamFlag.Continue, `record ${toHex(first)} should continue vga.vram`);
  assert.equal(first[7]! & ~RamFlag.Continue & 0xff, RamFlag.Xbzrle);
});

test('round trip: the writer forgets the last block at setup', async () => {
  const bytes = await buildStream((w) => {
    w.ram.zero('a', 0, 0);
    w.ramSetup(2, [{ idstr: 'a', lengthBytes: PAGE }]);
    w.ram.zero('a', 0, 0);
  });
  // after ramSetup the first page record names its block again
  assert.equal(bytes[bytes.length - 2 - 1 - 8 + 7]! & RamFlag.Continue, 0);
});

test('round trip: identical results whatever the chunking (1-byte, random sizes, 64 KiB)', async () => {
  const w = await writeScenario(RICH);
  const whole = await load(w.bytes);
  const next = prng(42);
  const random = Array.from({ length: 64 }, () => 1 + (next() % 5000));
  for (const sizes of [[1], random, [65536], [4095, 4097, 1, 0, 8]]) {
    const { result, target } = await load(w.bytes, {}, sizes);
    assert.deepEqual(result, whole.result);
    for (const [idstr, mem] of w.memory) assert.ok(Buffer.from(target.memory.get(idstr)!).equals(mem), `block ${idstr}, chunks ${sizes.length}`);
  }
});

const SMALL: Scenario = {
  machine: 'm',
  blocks: [{ idstr: 'b', pages: 2 }, { idstr: 'c/d', pages: 1 }],
  ops: [
    { t: 'zero', block: 0, page: 0, fill: 3 },
    { t: 'xbzrle', block: 0, page: 0, edits: [{ off: 5, len: 3, seed: 1 }] },
    { t: 'section', kind: 'part' },
    { t: 'xbrle', block: 0, page: 0, edits: [{ off: 4000, len: 3, seed: 2 }] },
    { t: 'zero', block: 1, page: 0, fill: 0 },
  ],
  device: new Uint8Array([1, 2, 3]),
  digest: new Uint8Array([9]),
};

test('round trip: a small stream split in two at every position loads identically', async () => {
  const w = await writeScenario(SMALL);
  const whole = await load(w.bytes);
  for (let cut = 1; cut < w.bytes.length; cut++) {
    const { result, target } = await load(w.bytes, {}, [cut, w.bytes.length]);
    assert.deepEqual(result, whole.result, `cut at ${cut}`);
    assert.deepEqual(target.memory, whole.target.memory, `cut at ${cut}`);
  }
});

test('round trip: a subset of blocks may be accepted; records for a refused block fail', async () => {
  const w = await writeScenario(SMALL);
  const target = new RecordingTarget((b) => b.idstr === 'b');
  await assert.rejects(load(w.bytes, {}, undefined, target), {
    name: 'StreamError',
    message: /RAM block 'c\/d' was not accepted by the destination at stream offset \d+ in ram record c\/d/u,
  });
  assert.deepEqual(target.offered?.map((b) => b.idstr), ['b', 'c/d']);
});

test('round trip: QEMU_VM_COMMAND SWITCHOVER_START and OPEN_RETURN_PATH are accepted', async () => {
  const bytes = await buildStream((w) => {
    w.header();
    w.command(1);
    w.ramSetup(2, [{ idstr: 'pc.ram', lengthBytes: PAGE }]);
    w.command(11);
    w.eof();
  });
  const { result } = await load(bytes);
  assert.deepEqual(result.commands, [1, 11]);
  assert.equal(result.vmdesc, undefined);
});

test('round trip: a ram section sent FULL (as QEMU allows) loads the same', async () => {
  const bytes = await buildStream((w) => {
    w.header();
    w.sectionFull(9, 'ram', 0, 4);
    w.ram.memSize([{ idstr: 'pc.ram', lengthBytes: PAGE }]);
    w.ram.zero('pc.ram', 0, 0x11);
    w.ram.eos();
    w.footer(9);
    w.eof();
  });
  const { target } = await load(bytes);
  assert.equal(target.memory.get('pc.ram')![4095], 0x11);
});

test('round trip: a 4 GiB block takes offsets with the top bit of the low word set', async (t) => {
  let big: Uint8Array;
  try {
    big = new Uint8Array(2 ** 32);
  } catch {
    t.skip('cannot allocate a 4 GiB typed array here');
    return;
  }
  const page = new Uint8Array(PAGE).fill(0xcd);
  const bytes = await buildStream((w) => {
    w.header();
    w.ramSetup(2, [{ idstr: 'huge', lengthBytes: 2 ** 32 }, { idstr: 'small', lengthBytes: 2 * PAGE }]);
    w.sectionPart(2);
    w.ram.page('huge', 0xffff_f000, page);
    w.ram.zero('huge', 0x8000_0000, 0x77);
    w.ram.page('small', PAGE, page);
    w.ram.eos();
    w.footer(2);
    w.eof();
  });
  const target = new RecordingTarget();
  target.setupRam = (blocks) => {
    target.offered = [...blocks];
    target.memory.set('huge', big);
    target.memory.set('small', new Uint8Array(2 * PAGE));
    return target.memory;
  };
  const { result } = await load(bytes, { maxRamBytes: 2 ** 33 }, undefined, target);
  assert.deepEqual(result.blocks, [{ idstr: 'huge', lengthBytes: 2 ** 32 }, { idstr: 'small', lengthBytes: 2 * PAGE }]);
  assert.equal(big[0xffff_f000], 0xcd);
  assert.equal(big[0xffff_ffff], 0xcd);
  assert.equal(big[0x8000_0000], 0x77);
  assert.equal(big[0x7fff_ffff], 0);
  assert.equal(target.memory.get('small')![PAGE], 0xcd);
});
