import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidArgumentError } from '../../src/errors.js';
import { ByteWriter } from '../../src/stream/index.js';
import type { ByteWriterOptions } from '../../src/stream/index.js';
import { inPlaceCopy } from '../../src/codec/index.js';
import type { InPlaceCopy } from '../../src/codec/index.js';
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

/** A writer whose sink keeps each chunk and a copy of it as handed over, and releases it when `release`. */
function recordingWriter(options: ByteWriterOptions, release: boolean): { w: ByteWriter; chunks: Uint8Array[]; copies: Uint8Array[] } {
  const chunks: Uint8Array[] = [];
  const copies: Uint8Array[] = [];
  const w = new ByteWriter(async (c, rel) => {
    chunks.push(c);
    copies.push(c.slice());
    if (release) rel();
  }, options);
  return { w, chunks, copies };
}

test('byte writer: copies from shared memory land at its alignment, and the bytes and chunk sizes stay those written (property)', async () => {
  const ram = new Uint8Array(new SharedArrayBuffer(64 * 1024));
  for (let i = 0; i < ram.length; i++) ram[i] = (i * 31 + 7) & 255;
  const op = fc.oneof(
    fc.record({ kind: fc.constant('u8' as const), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('be32' as const), v: fc.integer({ min: 0, max: 0xffffffff }) }),
    fc.record({ kind: fc.constant('be64' as const), v: fc.integer({ min: 0, max: 2 ** 40 }) }),
    fc.record({ kind: fc.constant('bytes' as const), at: fc.integer({ min: 0, max: 60 * 1024 }), n: fc.integer({ min: 0, max: 4096 }) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 64, max: 9000 }), fc.array(op, { maxLength: 60 }), fc.boolean(), async (chunkBytes, ops, release) => {
      const { w, chunks, copies } = recordingWriter({ chunkBytes }, release);
      const expected: number[] = [];
      /** For each large copy that began in a chunk holding at most 64 bytes: its stream offset and source address. */
      const aligned: { streamAt: number; srcAddr: number }[] = [];
      // bytes in the chunk being filled, as the writer fills chunks: an integer never straddles two
      let held = 0;
      const fixed = (n: number): void => {
        if (held + n > chunkBytes) held = 0;
        held += n;
      };
      for (const o of ops) {
        if (o.kind === 'u8') {
          fixed(1);
          w.writeU8(o.v);
          expected.push(o.v);
        } else if (o.kind === 'be32') {
          fixed(4);
          w.writeBe32(o.v);
          expected.push(o.v >>> 24, (o.v >>> 16) & 255, (o.v >>> 8) & 255, o.v & 255);
        } else if (o.kind === 'be64') {
          fixed(8);
          w.writeBe64(o.v);
          const hi = Math.floor(o.v / 2 ** 32);
          const lo = o.v % 2 ** 32;
          expected.push(hi >>> 24, (hi >>> 16) & 255, (hi >>> 8) & 255, hi & 255, lo >>> 24, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255);
        } else {
          if (o.n > 0 && held === chunkBytes) held = 0;
          if (o.n >= 1024 && held <= 64) aligned.push({ streamAt: expected.length, srcAddr: o.at });
          w.writeBytesAt(ram, o.at, o.n);
          for (let i = 0; i < o.n; i++) expected.push(ram[o.at + i]!);
          for (let n = o.n; n > 0; ) {
            if (held === chunkBytes) held = 0;
            const k = Math.min(n, chunkBytes - held);
            held += k;
            n -= k;
          }
        }
        if (o.kind === 'u8' && o.v % 17 === 0) {
          await w.flush();
          held = 0;
        }
      }
      await w.flush();
      assert.deepEqual(Array.from(concat(copies)), expected);
      // every chunk is full but those a flush handed over
      assert.ok(chunks.every((c) => c.length <= chunkBytes));
      // a large copy's first byte sits at its source's address modulo 8
      for (const a of aligned) {
        let at = a.streamAt;
        const c = chunks.findIndex((ch) => (at < ch.length ? true : ((at -= ch.length), false)));
        if (c < 0) continue;
        assert.equal((chunks[c]!.byteOffset + at) & 7, a.srcAddr & 7, `copy at stream offset ${a.streamAt} from ${a.srcAddr}`);
      }
    }),
    { numRuns: 200 },
  );
});

test('byte writer with an area: its chunks lie there, bytes from that memory go in by the in-place copy, and the stream is the bytes written (property)', async () => {
  const memory = new WebAssembly.Memory({ initial: 4, maximum: 4, shared: true }); // 256 KiB
  const all = new Uint8Array(memory.buffer);
  const ram = all.subarray(0, 128 * 1024); // the guest's RAM...
  const area = all.subarray(128 * 1024); // ...and its I/O area, one memory
  const elsewhere = new Uint8Array(new SharedArrayBuffer(64 * 1024));
  for (let i = 0; i < ram.length; i++) ram[i] = (i * 31 + 7) & 255;
  for (let i = 0; i < elsewhere.length; i++) elsewhere[i] = (i * 17 + 3) & 255;
  const copy = inPlaceCopy(memory)!;
  let inPlace = 0;
  const counted: InPlaceCopy = (dst, src, n) => {
    inPlace++;
    copy(dst, src, n);
  };
  const op = fc.oneof(
    fc.record({ kind: fc.constant('u8' as const), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('ram' as const), at: fc.integer({ min: 0, max: 120 * 1024 }), n: fc.integer({ min: 1, max: 8192 }) }),
    fc.record({ kind: fc.constant('elsewhere' as const), at: fc.integer({ min: 0, max: 60 * 1024 }), n: fc.integer({ min: 0, max: 4096 }) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 64, max: 40000 }), fc.array(op, { maxLength: 40 }), fc.boolean(), async (chunkBytes, ops, release) => {
      const { w, chunks, copies } = recordingWriter({ chunkBytes, area: { bytes: area, copy: counted } }, release);
      const expected: number[] = [];
      inPlace = 0;
      let fromRam = 0;
      for (const o of ops) {
        if (o.kind === 'u8') {
          w.writeU8(o.v);
          expected.push(o.v);
          if (o.v % 11 === 0) await w.flush();
        } else {
          const src = o.kind === 'ram' ? ram : elsewhere;
          w.writeBytesAt(src, o.at, o.n);
          for (let i = 0; i < o.n; i++) expected.push(src[o.at + i]!);
          if (o.kind === 'ram') fromRam++;
        }
      }
      await w.flush();
      assert.deepEqual(Array.from(concat(copies)), expected);
      const slots = Math.min(8, Math.floor(area.length / (chunkBytes + 8)));
      // the first chunks are the area's; a sink that releases gets them back and again (a chunk
      // of its own only when more were handed over at once than the area holds)
      const inArea = chunks.filter((c) => c.buffer === memory.buffer).length;
      assert.ok(chunks.slice(0, slots).every((c) => c.buffer === memory.buffer), 'the first chunks were not the area\'s');
      if (release) assert.ok(inArea >= Math.min(slots, chunks.length));
      else assert.equal(inArea, Math.min(slots, chunks.length), 'a kept area chunk was handed over again');
      if (slots === 0 || fromRam === 0) assert.equal(inPlace, 0, 'the in-place copy ran for a chunk or source outside the area');
    }),
    { numRuns: 120 },
  );
  // pages from RAM into area chunks: each is one in-place copy
  inPlace = 0;
  const got: Uint8Array[] = [];
  const w = new ByteWriter(async (c, rel) => {
    got.push(c.slice());
    rel();
  }, { chunkBytes: 64 * 1024, area: { bytes: area, copy: counted } });
  for (let p = 0; p < 4; p++) w.writeBytesAt(ram, p * 4096 + 3, 4096);
  await w.flush();
  assert.equal(inPlace, 4);
  assert.deepEqual(concat(got), ram.slice(3, 3 + 4 * 4096));
});
