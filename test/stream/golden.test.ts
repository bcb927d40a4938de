import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeltaEncoding, LivemigSectionId, encodeVmdesc } from '../../src/stream/index.js';
import { ascii, buildStream, fromHex, load, toHex } from './helpers.js';

// The 24-byte example of QEMU's docs/xbzrle.txt: bytes 1001..1015 become 01..0f,
// byte 1019 becomes 0x67 and byte 1021 becomes 0x69.
const DOC_DELTA = fromHex('e9 07 0f 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 03 01 67 01 01 69');

// docs/stream-format.md, "Example: the smallest stream", written by hand:
// one 64 KiB block, a PART with a ZERO record and a CONTINUE'd XBZRLE record, an empty END.
const MINIMAL = fromHex(`
  51 45 56 4d  00 00 00 03
  07  00 00 00 0d  ${toHex(ascii('pc-i440fx-7.2'))}
  01  00 00 00 02  03 ${toHex(ascii('ram'))}  00 00 00 00  00 00 00 04
      00 00 00 00 00 01 00 04   06 ${toHex(ascii('pc.ram'))}  00 00 00 00 00 01 00 00
      00 00 00 00 00 00 00 10
  7e  00 00 00 02
  02  00 00 00 02
      00 00 00 00 00 00 00 02   06 ${toHex(ascii('pc.ram'))}  00
      00 00 00 00 00 00 10 60   01  00 18  ${toHex(DOC_DELTA)}
      00 00 00 00 00 00 00 10
  7e  00 00 00 02
  03  00 00 00 02  00 00 00 00 00 00 00 10  7e 00 00 00 02
  00
  06  00 00 00 1f  ${toHex(ascii('{"page_size":4096,"devices":[]}'))}
`);

test('golden: the writer produces the smallest stream of docs/stream-format.md byte for byte', async () => {
  const bytes = await buildStream((w) => {
    w.header('pc-i440fx-7.2');
    w.ramSetup(2, [{ idstr: 'pc.ram', lengthBytes: 0x10000 }]);
    w.sectionPart(2);
    assert.equal(w.ram.zero('pc.ram', 0, 0), 8 + 7 + 1);
    assert.equal(w.ram.xbzrle('pc.ram', 0x1000, DeltaEncoding.Xbzrle, DOC_DELTA), 8 + 3 + 24);
    w.ram.eos();
    w.footer(2);
    w.sectionEnd(2);
    w.ram.eos();
    w.footer(2);
    w.eof();
    w.vmdesc();
  });
  assert.equal(toHex(bytes), toHex(MINIMAL));
});

test('golden: the loader accepts the minimal stream and applies the XBZRLE page', async () => {
  const { result, target } = await load(MINIMAL);
  assert.equal(result.machineName, 'pc-i440fx-7.2');
  assert.equal(result.endedAt, 'eof');
  assert.equal(result.bytesRead, MINIMAL.length);
  assert.deepEqual(result.blocks, [{ idstr: 'pc.ram', lengthBytes: 0x10000 }]);
  assert.deepEqual(result.vmdesc, { page_size: 4096, devices: [] });
  assert.deepEqual(result.counts, { memSize: 1, zero: 1, page: 0, xbzrle: 1, xbrle: 0, eos: 3 });
  assert.deepEqual(
    result.sections.map((s) => [s.type, s.id, s.idstr, s.instanceId, s.versionId, s.offset, s.lengthBytes]),
    [
      ['start', 2, 'ram', 0, 4, 26, 17 + 8 + 15 + 8 + 5],
      ['part', 2, 'ram', 0, 4, 79, 5 + 16 + 35 + 8 + 5],
      ['end', 2, 'ram', 0, 4, 148, 18],
    ],
  );
  const page = target.memory.get('pc.ram')!.subarray(0x1000, 0x2000);
  const expected = new Uint8Array(4096);
  for (let i = 0; i < 15; i++) expected[1001 + i] = i + 1;
  expected[1019] = 0x67;
  expected[1021] = 0x69;
  assert.deepEqual(page, expected);
});

test('golden: livemig device and digest sections', async () => {
  const state = ascii('{"cpu":1}');
  const digest = fromHex('00112233');
  const bytes = await buildStream((w) => {
    assert.equal(w.deviceState(LivemigSectionId.Device, state), 14 + 14 + 4 + 9 + 5);
    assert.equal(w.digest(LivemigSectionId.Digest, 'sha256', digest), 14 + 14 + 1 + 6 + 1 + 4 + 5);
  });
  assert.equal(
    toHex(bytes),
    toHex(
      fromHex(`
        04 00 00 00 03  0e ${toHex(ascii('livemig-device'))}  00 00 00 00  00 00 00 01
           00 00 00 09  ${toHex(state)}
        7e 00 00 00 03
        04 00 00 00 04  0e ${toHex(ascii('livemig-digest'))}  00 00 00 00  00 00 00 01
           06 ${toHex(ascii('sha256'))}  04 00 11 22 33
        7e 00 00 00 04`),
    ),
  );
});

test('golden: RAM record offsets above 4 GiB are exact in the be64, flags in the low bits', async () => {
  const bytes = await buildStream((w) => {
    w.ram.zero('big', 0x1_2345_6000, 0x5a);
    w.ram.page('big', 0x1f_ffff_f000, new Uint8Array(4096));
    w.ram.xbzrle('big', 0x10_0000_0000, DeltaEncoding.Xbrle, fromHex('ff 00 ff 00 ff 00 ff 00 ff 00 ff 00 ff 00 ff 00 10 00'));
    w.ram.eos();
  });
  assert.equal(toHex(bytes.subarray(0, 13)), '0000000123456002' + '03626967' + '5a');
  assert.equal(toHex(bytes.subarray(13, 21)), '0000001ffffff028');
  assert.equal(toHex(bytes.subarray(21 + 4096, 21 + 4096 + 11)), '0000001000000060' + '02' + '0012');
  assert.equal(toHex(bytes.subarray(bytes.length - 8)), '0000000000000010');
});

test('golden: MEM_SIZE carries a total above 4 GiB exactly', async () => {
  const bytes = await buildStream((w) => {
    w.ram.memSize([
      { idstr: 'a', lengthBytes: 0x1_0000_0000 },
      { idstr: 'b', lengthBytes: 0x2000 },
    ]);
  });
  assert.equal(toHex(bytes), '0000000100002004' + '0161' + '0000000100000000' + '0162' + '0000000000002000');
});

test('golden: the VM description length never contains a 0x7b byte', () => {
  // 123 = 0x7b: a JSON of exactly that length gets one space of padding.
  const name = 'x'.repeat(123 - '{"page_size":4096,"devices":[],"n":""}'.length);
  const json = encodeVmdesc({ page_size: 4096, devices: [], n: name });
  assert.equal(json.length, 124);
  assert.equal(json[123], 0x20);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(json)), { page_size: 4096, devices: [], n: name });
  for (let extra = 0; extra < 400; extra++) {
    const n = encodeVmdesc({ devices: [], pad: 'y'.repeat(extra) }).length;
    assert.ok(![n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].includes(0x7b), `length ${n}`);
  }
});
