import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../src/errors.js';
import { ByteWriter } from '../../src/stream/index.js';
import { concat, toHex } from './helpers.js';

test('byte writer: big-endian integers and bytes, split into full chunks of the configured size', async () => {
  const chunks: Uint8Array[] = [];
  const w = new ByteWriter(async (c) => {
    chunks.push(c);
  }, { chunkBytes: 64 });
  w.writeU8(0xab);
  w.writeBe16(0x1234);
  w.writeBe32(0xdeadbeef);
  w.writeBe64(2 ** 53 - 1);
  w.writeBe64Parts(0x01020304, 0x05060708);
  const big = new Uint8Array(200).map((_, i) => i);
  w.writeBytes(big);
  assert.equal(w.bytesWritten, 1 + 2 + 4 + 8 + 8 + 200);
  await w.flush();
  assert.deepEqual(chunks.map((c) => c.length), [64, 64, 64, 31]);
  const all = concat(chunks);
  assert.equal(toHex(all.subarray(0, 23)), 'ab1234deadbeef001fffffffffffff0102030405060708');
  assert.deepEqual(all.subarray(23), big);
});

test('byte writer: an integer never straddles chunks; a handed-over chunk is never written again', async () => {
  const chunks: Uint8Array[] = [];
  const copies: string[] = [];
  const w = new ByteWriter(async (c) => {
    chunks.push(c);
    copies.push(toHex(c));
  }, { chunkBytes: 64 });
  for (let i = 0; i < 100; i++) w.writeBe64Parts(i, i);
  await w.flush();
  for (let i = 0; i < 100; i++) w.writeBe32(0xffffffff);
  await w.flush();
  assert.ok(chunks.every((c) => c.length % 8 === 0 || c.length % 4 === 0));
  assert.deepEqual(chunks.map(toHex), copies, 'a chunk changed after the sink got it');
  const buffers = new Set(chunks.map((c) => c.buffer));
  assert.equal(buffers.size, chunks.length, 'two chunks share a buffer');
});

test('byte writer: a released chunk is reused, one not yet released is never written to', async () => {
  // the sink releases each chunk one hand-over late, as a socket does once the kernel took it
  const sent: string[] = [];
  let held: { chunk: Uint8Array; copy: string; release: () => void } | undefined;
  const w = new ByteWriter(async (c, release) => {
    if (held !== undefined) {
      assert.equal(toHex(held.chunk), held.copy, 'a chunk changed before it was released');
      assert.notEqual(held.chunk.buffer, c.buffer, 'an unreleased chunk was handed over again');
      held.release();
      held.release(); // a second call must be ignored, not pool the buffer twice
    }
    held = { chunk: c, copy: toHex(c), release };
    sent.push(toHex(c));
  }, { chunkBytes: 64 });
  const expected: string[] = [];
  for (let i = 0; i < 200; i++) {
    const bytes = new Uint8Array(64).fill(i);
    w.writeBytes(bytes);
    expected.push(toHex(bytes));
    if (i % 7 === 0) await w.flush();
  }
  await w.flush();
  assert.deepEqual(sent, expected);
  // at most 7 chunks queued between flushes, one held by the sink, one being filled
  assert.ok(w.chunksAllocated <= 9, `${w.chunksAllocated} chunks allocated for 200 hand-overs`);
});

test('byte writer: a sink that never releases gets a fresh chunk every time', async () => {
  const chunks: Uint8Array[] = [];
  const w = new ByteWriter(async (c) => {
    chunks.push(c);
  }, { chunkBytes: 64 });
  for (let i = 0; i < 20; i++) w.writeBytes(new Uint8Array(64).fill(i));
  await w.flush();
  assert.equal(w.chunksAllocated, 20);
  chunks.forEach((c, i) => assert.ok(c.every((b) => b === i), `chunk ${i} was overwritten`));
});

test('byte writer: sink calls are sequential and in order, and drain() applies back-pressure', async () => {
  const order: number[] = [];
  let active = 0;
  const w = new ByteWriter(async (c) => {
    active++;
    assert.equal(active, 1, 'the sink was called concurrently');
    await new Promise((r) => setTimeout(r, 1));
    order.push(c[0]!);
    active--;
  }, { chunkBytes: 64 });
  for (let i = 0; i < 10; i++) w.writeBytes(new Uint8Array(64).fill(i));
  assert.ok(w.pendingBytes > 0);
  await w.drain(128);
  assert.ok(w.pendingBytes <= 128);
  await w.flush();
  assert.equal(w.pendingBytes, 0);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('byte writer: the first sink failure is sticky', async () => {
  let calls = 0;
  const boom = new Error('disk full');
  const w = new ByteWriter(async () => {
    calls++;
    throw boom;
  }, { chunkBytes: 64 });
  w.writeBytes(new Uint8Array(100));
  await assert.rejects(w.flush(), (e) => e === boom);
  assert.equal(w.error, boom);
  const before = w.bytesWritten;
  w.writeBytes(new Uint8Array(1000));
  w.writeBe32(1);
  assert.equal(w.bytesWritten, before, 'writes after the failure are no-ops');
  await assert.rejects(w.flush(), (e) => e === boom);
  await assert.rejects(w.drain(), (e) => e === boom);
  assert.equal(calls, 1);
});

test('byte writer: bad arguments throw InvalidArgumentError', () => {
  assert.throws(() => new ByteWriter(async () => {}, { chunkBytes: 8 }), InvalidArgumentError);
  const w = new ByteWriter(async () => {});
  assert.throws(() => w.writeBe64(2 ** 53), InvalidArgumentError);
  assert.throws(() => w.writeBe64(-1), InvalidArgumentError);
  assert.throws(() => w.writeBe64(1.5), InvalidArgumentError);
});

test('byte writer: flush with nothing written does not call the sink', async () => {
  let calls = 0;
  const w = new ByteWriter(async () => {
    calls++;
  });
  await w.flush();
  assert.equal(calls, 0);
});
