import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../src/errors.js';
import { ByteWriter, MigrationStreamWriter } from '../../src/stream/index.js';
import type { DeltaEncodingByte } from '../../src/stream/index.js';

function writer(): MigrationStreamWriter {
  return new MigrationStreamWriter(new ByteWriter(async () => {}));
}

test('writer: bad arguments throw InvalidArgumentError before writing anything', () => {
  const w = writer();
  const bad: (() => unknown)[] = [
    () => w.ram.zero('pc.ram', 100, 0),
    () => w.ram.zero('pc.ram', -4096, 0),
    () => w.ram.zero('pc.ram', 2 ** 53, 0),
    () => w.ram.zero('pc.ram', 0, 256),
    () => w.ram.zero('', 0, 0),
    () => w.ram.zero('x'.repeat(256), 0, 0),
    () => w.ram.page('pc.ram', 0, new Uint8Array(4095)),
    () => w.ram.pageAt('pc.ram', 0, new Uint8Array(8192), 4097),
    () => w.ram.pageAt('pc.ram', 0, new Uint8Array(8192), -1),
    () => w.ram.pageAt('pc.ram', 0, new Uint8Array(8192), 0.5),
    () => w.ram.xbzrle('pc.ram', 0, 1, new Uint8Array(4097)),
    () => w.ram.xbzrle('pc.ram', 0, 3 as DeltaEncodingByte, new Uint8Array(1)),
    () => w.ram.xbzrleAt('pc.ram', 0, 1, new Uint8Array(8192), 0, 4097),
    () => w.ram.xbzrleAt('pc.ram', 0, 1, new Uint8Array(16), 10, 7),
    () => w.ram.xbzrleAt('pc.ram', 0, 1, new Uint8Array(16), -1, 2),
    () => w.ram.xbzrleAt('pc.ram', 0, 1, new Uint8Array(16), 0, -1),
    () => w.ram.xbzrleAt('pc.ram', 0, 1, new Uint8Array(16), 0, 1.5),
    () => w.ram.xbzrleAt('pc.ram', 0, 3 as DeltaEncodingByte, new Uint8Array(16), 0, 1),
    () => w.ram.memSize([{ idstr: 'a', lengthBytes: 100 }]),
    () => w.ram.memSize([{ idstr: 'a', lengthBytes: 4096 }, { idstr: 'a', lengthBytes: 4096 }]),
    () => w.ram.memSize([{ idstr: 'a', lengthBytes: 0 }]),
    () => w.sectionStart(2 ** 32, 'ram', 0, 4),
    () => w.sectionFull(1, 'dev', -1, 1),
    () => w.sectionPart(1.5),
    () => w.command(70000),
    () => w.digest(4, '', new Uint8Array(1)),
    () => w.digest(4, 'sha256', new Uint8Array(256)),
    () => w.header('m'.repeat(1025)),
  ];
  for (const f of bad) assert.throws(f, InvalidArgumentError, String(f));
  assert.equal(w.out.bytesWritten, 0);
});

test('writer: pageAt writes what page writes for the same bytes, in place in a larger buffer', async () => {
  const mem = Uint8Array.from({ length: 3 * 4096 }, (_, i) => (i * 7 + (i >>> 12)) & 0xff);
  const streams: Uint8Array[] = [];
  for (const viaAt of [false, true]) {
    const chunks: Uint8Array[] = [];
    const out = new ByteWriter(async (c) => void chunks.push(c.slice()), { chunkBytes: 1000 }); // pages cross chunks
    const w = new MigrationStreamWriter(out);
    for (const at of [4096, 0, 8192]) {
      const n = viaAt ? w.ram.pageAt('pc.ram', at, mem, at) : w.ram.page('pc.ram', at, mem.subarray(at, at + 4096));
      assert.equal(n, at === 4096 ? 8 + 1 + 6 + 4096 : 8 + 4096);
    }
    await out.flush();
    streams.push(Uint8Array.from(chunks.flatMap((c) => [...c])));
  }
  assert.equal(streams[1]!.length, 3 * (8 + 4096) + 7);
  assert.deepEqual(streams[1], streams[0]);
});

test('writer: xbzrleAt writes what xbzrle writes for the same bytes, read in place at any offset', async () => {
  const buf = Uint8Array.from({ length: 5000 }, (_, i) => (i * 13 + 5) & 0xff);
  const cases: [number, number, DeltaEncodingByte][] = [[0, 0, 1], [0, 14, 1], [3, 63, 2], [7, 64, 1], [100, 4096, 1], [900, 1000, 2]];
  const streams: Uint8Array[] = [];
  for (const viaAt of [false, true]) {
    const chunks: Uint8Array[] = [];
    const out = new ByteWriter(async (c) => void chunks.push(c.slice()), { chunkBytes: 700 }); // deltas cross chunks
    const w = new MigrationStreamWriter(out);
    cases.forEach(([at, len, enc], i) => {
      const n = viaAt ? w.ram.xbzrleAt('pc.ram', i * 4096, enc, buf, at, len) : w.ram.xbzrle('pc.ram', i * 4096, enc, buf.subarray(at, at + len));
      assert.equal(n, (i === 0 ? 8 + 1 + 6 : 8) + 3 + len);
    });
    await out.flush();
    streams.push(Uint8Array.from(chunks.flatMap((c) => [...c])));
  }
  assert.equal(streams[1]!.length, cases.reduce((sum, [, len]) => sum + 8 + 3 + len, 7));
  assert.deepEqual(streams[1], streams[0]);
});

test('writer: the idstr is UTF-8 and at most 255 bytes; 255 is fine', () => {
  const w = writer();
  assert.equal(w.ram.zero('x'.repeat(255), 0, 0), 8 + 1 + 255 + 1);
  assert.equal(w.ram.zero('x'.repeat(255), 4096, 0), 8 + 1, 'CONTINUE');
  assert.equal(w.ram.zero('é', 0, 0), 8 + 1 + 2 + 1);
  assert.throws(() => w.ram.zero('é'.repeat(128), 0, 0), InvalidArgumentError);
});

test('writer: eos does not change the last block; reset() does', () => {
  const w = writer();
  w.ram.zero('a', 0, 0);
  w.ram.eos();
  assert.equal(w.ram.zero('a', 0, 0), 9, 'CONTINUE after EOS');
  w.ram.reset();
  assert.equal(w.ram.zero('a', 0, 0), 11, 'named again after reset');
});
