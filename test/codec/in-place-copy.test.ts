/**
 * The in-place copy (asm/ram-copy.ts): memory.copy within one WebAssembly.Memory, by byte
 * addresses. It must give what copyWithin gives, at any alignment and length, overlapping or
 * not, on a shared memory (guest RAM) and an unshared one, and instantiating it must write nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { inPlaceCopy } from '../../src/codec/index.js';

const PAGES = 2; // 128 KiB

for (const shared of [true, false]) {
  test(`in-place copy (${shared ? 'shared' : 'unshared'} memory): copyWithin's result at any offsets and length; instantiating writes nothing`, () => {
    const memory = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES, shared });
    const bytes = new Uint8Array(memory.buffer);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 151) >>> 2;
    const before = createHash('sha256').update(bytes).digest('hex');
    const copy = inPlaceCopy(memory);
    assert.ok(copy !== undefined, 'the module loads (it is built with the package)');
    assert.equal(createHash('sha256').update(bytes).digest('hex'), before, 'instantiating the copy wrote the memory');
    const reference = new Uint8Array(bytes.length);
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.nat(bytes.length - 1), fc.nat(8192), fc.integer({ min: 0, max: 255 }), (dst, src, len, seed) => {
        const n = Math.min(len, bytes.length - dst, bytes.length - src);
        for (let i = 0; i < 64; i++) bytes[(seed * 97 + i * 13) % bytes.length] = (seed + i) & 0xff;
        reference.set(bytes);
        reference.copyWithin(dst, src, src + n);
        copy(dst, src, n);
        assert.deepEqual(bytes, reference);
      }),
      { numRuns: 200 },
    );
  });
}

test('in-place copy: refuses what is not a WebAssembly.Memory', () => {
  assert.throws(() => inPlaceCopy(new Uint8Array(8) as unknown as WebAssembly.Memory), /expected a WebAssembly.Memory/);
});
