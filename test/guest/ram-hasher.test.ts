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
