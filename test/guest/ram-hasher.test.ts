import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory, RamHasher } from '../../src/guest/index.js';

test('RamHasher: the worker\'s digest is GuestMemory.digest(), and follows the RAM', async () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 << 20 }, { idstr: 'rom', sizeBytes: 64 * 1024 }]);
  memory.blocks[0]!.bytes.fill(3, 5000, 9000);
  const hasher = RamHasher.start(memory);
  try {
    const first = await hasher.digest();
    assert.equal(first, memory.digest());
    memory.blocks[1]!.bytes[100] = 7; // the worker sees the shared RAM, not a copy
    const second = await hasher.digest();
    assert.notEqual(second, first);
    assert.equal(second, memory.digest());
    const running = hasher.digest();
    await assert.rejects(hasher.digest(), /already running/);
    assert.equal(await running, second);
  } finally {
    await hasher.close();
  }
  await assert.rejects(hasher.digest(), /closed/);
});

test('RamHasher: ready resolves once the worker waits for work, then digests answer', async () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 64 * 1024 }]);
  const hasher = RamHasher.start(memory);
  try {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('ready did not resolve in 20 s')), 20_000)));
    await Promise.race([hasher.ready, late]).finally(() => clearTimeout(timer));
    assert.equal(await hasher.digest(), memory.digest());
  } finally {
    await hasher.close();
  }
});

test('RamHasher: page128 chunk tables split over workers are the reference\'s, and follow the RAM', async () => {
  const { chunkDigests } = await import('../../src/codec/page-hash128.js');
  // a WebAssembly.Memory block (hashed in place) and a small one that is not whole 64 KiB pages
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 4 << 20 }, { idstr: 'rom', sizeBytes: 12 * 4096 }]);
  assert.ok(memory.blocks[0]!.wasmMemory !== undefined);
  for (const b of memory.blocks) for (let i = 0; i < b.sizeBytes; i += 4096) b.bytes[i + (i % 4000)] = (i >>> 12) & 0xff;
  const hasher = RamHasher.start(memory, 3);
  const reference = (): number[] => {
    const t = new Int32Array(hasher.chunkCount * 4);
    chunkDigests(memory.blocks.map((b) => b.bytes), [], 0, hasher.chunkCount, t);
    return [...t];
  };
  try {
    assert.equal(hasher.workerCount, 3);
    assert.equal(hasher.chunkCount, 16 + 1); // 1024 pages in chunks of 64, and 12 pages
    assert.deepEqual([...(await hasher.chunks())], reference());
    memory.blocks[0]!.bytes[3 * 4096 + 17] ^= 0x40; // the workers read the shared RAM, not a copy
    const second = [...(await hasher.chunks())];
    assert.deepEqual(second, reference());
    assert.notDeepEqual(second.slice(0, 4), [...new Int32Array(4)]);
    // the first 5 chunks only (a sample): the rest of the table keeps what the last run left
    memory.blocks[0]!.bytes[2 * 4096 + 9] ^= 0x10; // chunk 0
    memory.blocks[0]!.bytes[900 * 4096 + 9] ^= 0x10; // chunk 14
    const sampled = [...(await hasher.chunks(5))];
    const now = reference();
    assert.deepEqual(sampled.slice(0, 5 * 4), now.slice(0, 5 * 4));
    assert.notDeepEqual(sampled.slice(0, 4), second.slice(0, 4));
    assert.deepEqual(sampled.slice(5 * 4), second.slice(5 * 4));
    assert.notDeepEqual(sampled.slice(14 * 4, 15 * 4), now.slice(14 * 4, 15 * 4));
  } finally {
    await hasher.close();
  }
});
