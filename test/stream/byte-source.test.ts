import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { StreamError } from '../../src/errors.js';
import { ByteSource } from '../../src/stream/index.js';
import { chunked, fromHex } from './helpers.js';

const BYTES = fromHex('01 0203 04050607 08090a0b0c0d0e0f 1011121314');

async function readAll(src: ByteSource): Promise<number[]> {
  await src.ensure(1, 'u8');
  const a = src.readU8();
  await src.ensure(2, 'be16');
  const b = src.readBe16();
  await src.ensure(4, 'be32');
  const c = src.readBe32();
  await src.ensure(8, 'be64');
  const d = src.readBe32();
  const e = src.readBe32();
  await src.ensure(5, 'tail');
  const f = [...src.take(5)];
  return [a, b, c, d, e, ...f, src.offset];
}

test('byte source: reads the same values whatever the chunking', async () => {
  const expected = [0x01, 0x0203, 0x04050607, 0x08090a0b, 0x0c0d0e0f, 0x10, 0x11, 0x12, 0x13, 0x14, 20];
  for (const sizes of [[20], [1], [2], [3], [7], [1, 0, 2, 0, 5], [19, 1], [1, 19]]) {
    const src = new ByteSource(chunked(BYTES, sizes));
    assert.deepEqual(await readAll(src), expected, `chunks ${sizes.join(',')}`);
    assert.equal(await src.atEnd(), true);
  }
});

test('byte source: reads a Node Readable', async () => {
  const src = new ByteSource(Readable.from([Buffer.from(BYTES.subarray(0, 9)), Buffer.from(BYTES.subarray(9))]));
  assert.equal((await readAll(src))[2], 0x04050607);
});

test('byte source: truncation names what was wanted and where it should have started', async () => {
  const src = new ByteSource(chunked(BYTES, [3]));
  await src.ensure(15, 'x');
  src.take(15);
  await assert.rejects(src.ensure(8, 'RAM record header'), (e: unknown) => {
    assert.ok(e instanceof StreamError);
    assert.equal(e.offset, 15);
    assert.equal(e.message, 'truncated RAM record header: need 8 bytes, the stream ends after 5 at stream offset 15');
    return true;
  });
  // the bytes that did arrive remain readable
  assert.equal(src.available, 5);
  assert.equal(src.readU8(), 0x10);
});

test('byte source: skip and readFresh stream past chunk boundaries without the staging buffer', async () => {
  const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
  const src = new ByteSource(chunked(big, [333]));
  await src.skip(50_001, 'skip');
  assert.equal(src.offset, 50_001);
  const fresh = await src.readFresh(40_000, 'fresh');
  assert.equal(fresh.length, 40_000);
  assert.equal(fresh.buffer.byteLength, 40_000);
  assert.equal(fresh[0], 50_001 & 0xff);
  assert.equal(fresh[39_999], 90_000 & 0xff);
  await assert.rejects(src.skip(10_000, 'the rest'), { name: 'StreamError', offset: 90_001 });
});

test('byte source: a chunk that already holds the bytes is used in place (no copy)', async () => {
  const chunk = new Uint8Array(10_000);
  async function* one(): AsyncGenerator<Uint8Array> {
    yield chunk;
  }
  const src = new ByteSource(one());
  await src.ensure(8, 'header');
  src.take(8);
  await src.ensure(4096, 'page');
  const view = src.take(4096);
  assert.equal(view.buffer, chunk.buffer);
  assert.equal(view.byteOffset, 8);
});

test('byte source: buffering stays bounded by what was asked for plus one chunk', async () => {
  // a source of 64 KiB chunks, read record by record in 4 KiB + 8 steps
  const total = 1 << 22;
  let produced = 0;
  let consumed = 0;
  let maxAhead = 0;
  async function* gen(): AsyncGenerator<Uint8Array> {
    while (produced < total) {
      produced += 65536;
      maxAhead = Math.max(maxAhead, produced - consumed);
      yield new Uint8Array(65536);
    }
  }
  const src = new ByteSource(gen());
  while (consumed + 4104 <= total) {
    await src.ensure(4104, 'record');
    src.take(4104);
    consumed += 4104;
  }
  assert.ok(maxAhead <= 4104 + 65536, `buffered ${maxAhead} bytes ahead`);
});

test('byte source: input that is not bytes is refused', async () => {
  const src = new ByteSource(Readable.from(['text'], { objectMode: true }) as AsyncIterable<Uint8Array>);
  await assert.rejects(src.ensure(1, 'x'), { name: 'InvalidArgumentError', code: 'INVALID_ARGUMENT' });
});

test('byte source: close() ends the underlying iterator early', async () => {
  let finished = false;
  async function* gen(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) yield new Uint8Array(16);
    } finally {
      finished = true;
    }
  }
  const src = new ByteSource(gen());
  await src.ensure(20, 'x');
  await src.close();
  assert.equal(finished, true);
});

test('byte source: a plain array of chunks works too', async () => {
  const src = new ByteSource([BYTES.subarray(0, 5), BYTES.subarray(5)]);
  assert.equal((await readAll(src))[3], 0x08090a0b);
  assert.equal(await src.atEnd(), true);
});
