import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { inPlaceFillTest, selectedKernel } from '../../src/codec/index.js';

const MEMORY_PAGES = 2; // 128 KiB of WebAssembly memory

function sharedMemory(): { memory: WebAssembly.Memory; bytes: Uint8Array } {
  const memory = new WebAssembly.Memory({ initial: MEMORY_PAGES, maximum: MEMORY_PAGES, shared: true });
  return { memory, bytes: new Uint8Array(memory.buffer) };
}

test('in-place fill test: exists exactly when the SIMD kernel is the selected one', () => {
  const test = inPlaceFillTest(sharedMemory().memory);
  assert.equal(test !== undefined, selectedKernel().name === 'wasm-simd');
  assert.throws(() => inPlaceFillTest(new Uint8Array(8) as unknown as WebAssembly.Memory), /expected a WebAssembly.Memory/);
});

test('in-place fill test: agrees with a byte loop at any offset, and never writes the memory', () => {
  const { memory, bytes } = sharedMemory();
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131) >>> 3;
  const before = createHash('sha256').update(bytes).digest('hex');
  const isFilled = inPlaceFillTest(memory);
  if (isFilled === undefined) {
    // LIVEMIG_KERNEL=ts: no scanner, and the source keeps its copying path
    assert.notEqual(selectedKernel().name, 'wasm-simd');
    return;
  }
  assert.equal(createHash('sha256').update(bytes).digest('hex'), before, 'instantiating the scanner wrote guest memory');
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: bytes.length - 8192 }),
      fc.integer({ min: 1, max: 128 }).map((k) => k * 64),
      fc.integer({ min: 0, max: 255 }),
      fc.option(fc.tuple(fc.nat(8191), fc.integer({ min: 1, max: 255 }))),
      (offset, len, fill, poke) => {
        bytes.fill(fill, offset, offset + len);
        if (poke !== null && poke[0] < len) bytes[offset + poke[0]] = (fill + poke[1]) & 0xff;
        const want = bytes.subarray(offset, offset + len).every((b) => b === fill) ? 1 : 0;
        const snapshot = bytes.slice(offset, offset + len);
        assert.equal(isFilled(offset, len, fill), want);
        assert.deepEqual(bytes.subarray(offset, offset + len), snapshot);
      },
    ),
    { numRuns: 2000 },
  );
});

test('in-place fill test: offsets past 2 GiB (they wrap to negative i32 on the way into WebAssembly)', () => {
  // 2 GiB + 64 KiB of address space; only the pages poked below are ever touched
  const memory = new WebAssembly.Memory({ initial: 32769, maximum: 32769, shared: true });
  const isFilled = inPlaceFillTest(memory);
  if (isFilled === undefined) return assert.notEqual(selectedKernel().name, 'wasm-simd');
  const bytes = new Uint8Array(memory.buffer);
  const high = 2 ** 31 + 8192;
  assert.equal(isFilled(high, 4096, 0), 1);
  bytes[high + 4095] = 3;
  assert.equal(isFilled(high, 4096, 0), 0);
  assert.equal(isFilled(high - 4096, 4096, 0), 1, 'the page before is still zero');
  bytes.fill(7, high + 4096, high + 8192);
  assert.equal(isFilled(high + 4096, 4096, 7), 1);
});
