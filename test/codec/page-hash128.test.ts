import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CHUNK_PAGES, chunkDigests, combine128, inPlacePageHasher, page128Digest, pageHash128, rootDigest } from '../../src/codec/page-hash128.js';
import { selectedKernel } from '../../src/codec/index.js';

const PAGES = 8;

function memoryWith(bytes: Uint8Array): WebAssembly.Memory {
  const m = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }); // 16 pages
  new Uint8Array(m.buffer).set(bytes);
  return m;
}

const pages = fc.uint8Array({ minLength: PAGES * 4096, maxLength: PAGES * 4096 });

test('page128: the SIMD hasher gives the TypeScript reference\'s page and chunk hashes', { skip: selectedKernel().name !== 'wasm-simd' ? 'the SIMD kernel is not selected here' : false }, () => {
  fc.assert(
    fc.property(pages, fc.integer({ min: 1, max: PAGES }), fc.integer({ min: 0, max: PAGES - 1 }), (bytes, n, zero) => {
      bytes.fill(0, zero * 4096, zero * 4096 + 4096); // a zero page (the SIMD side's shortcut)
      bytes[zero * 4096 + 4095] = n % 2; // or one whose only non-zero byte is its last
      const mem = memoryWith(bytes);
      const h = inPlacePageHasher(mem)!;
      const words = new Int32Array(mem.buffer);
      const ref = new Int32Array(PAGES * 4);
      const got = new Int32Array(4);
      for (let p = 0; p < PAGES; p++) {
        pageHash128(words, p * 1024, ref, p * 4);
        h.page(p * 4096, got, 0);
        assert.deepEqual([...got], [...ref.subarray(p * 4, p * 4 + 4)]);
      }
      const chunk = new Int32Array(4);
      combine128(ref, 0, n, chunk, 0);
      h.chunk(0, n, got, 0);
      assert.deepEqual([...got], [...chunk]);
    }),
    { numRuns: 40 },
  );
});

test('page128: on an unshared memory (as v86\'s), a block at an offset hashes as the reference does, in place', { skip: selectedKernel().name !== 'wasm-simd' ? 'the SIMD kernel is not selected here' : false }, () => {
  fc.assert(
    fc.property(pages, fc.integer({ min: 0, max: 7 }), (bytes, k) => {
      const mem = new WebAssembly.Memory({ initial: 1 }); // unshared, no maximum
      const base = k * 4096;
      new Uint8Array(mem.buffer).set(bytes, base);
      const block = new Uint8Array(mem.buffer, base, PAGES * 4096);
      const h = inPlacePageHasher(mem)!;
      assert.ok(h !== undefined, 'the unshared hasher loads');
      const count = 1;
      const got = new Int32Array(count * 4);
      chunkDigests([block], [h], 0, count, got);
      assert.equal(rootDigest(got, count), page128Digest([bytes]));
      mem.grow(1); // the old buffer is detached; the Memory, and the hasher on it, go on
      new Uint8Array(mem.buffer)[base] ^= 1;
      chunkDigests([new Uint8Array(mem.buffer, base, PAGES * 4096)], [h], 0, count, got);
      const changed = bytes.slice();
      changed[0] ^= 1;
      assert.equal(rootDigest(got, count), page128Digest([changed]));
    }),
    { numRuns: 20 },
  );
});

test('page128: a change confined to one 32-bit word always changes the page hash', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4096, maxLength: 4096 }), fc.integer({ min: 0, max: 1023 }), fc.integer({ min: 1, max: 0xffffffff }), (bytes, word, flip) => {
      const a = new Int32Array(bytes.buffer.slice(0));
      const b = a.slice();
      b[word] = b[word]! ^ flip;
      const ha = new Int32Array(4);
      const hb = new Int32Array(4);
      pageHash128(a, 0, ha, 0);
      pageHash128(b, 0, hb, 0);
      assert.notDeepEqual([...ha], [...hb]);
    }),
    { numRuns: 300 },
  );
});

test('page128: swapping two different pages changes the chunk digest; the root follows every chunk', () => {
  const bytes = new Uint8Array(3 * CHUNK_PAGES * 4096 + 5 * 4096); // 3 whole chunks and a short one
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i / 4096;
  const before = page128Digest([bytes]);
  const swapped = bytes.slice();
  swapped.copyWithin(0, 4096, 8192);
  swapped.set(bytes.subarray(0, 4096), 4096);
  assert.notEqual(page128Digest([swapped]), before);
  const last = bytes.slice();
  last[last.length - 1] = 9; // the short last chunk
  assert.notEqual(page128Digest([last]), before);
  // split into two blocks, the chunks differ (a chunk never crosses a block): so does the root
  assert.notEqual(page128Digest([bytes.subarray(0, 4096), bytes.subarray(4096)]), before);
  const table = new Int32Array(4 * 4);
  chunkDigests([bytes], [], 0, 4, table);
  assert.equal(rootDigest(table, 4), before);
});
