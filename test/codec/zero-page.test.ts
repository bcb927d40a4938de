import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getKernel, isZeroPage, dupPageByte } from '../../src/index.js';
import type { DeltaKernel } from '../../src/index.js';
import { PAGE } from '../helpers/pages.js';

const kernels = [getKernel('ts')!, getKernel('wasm-simd')].filter((k): k is DeltaKernel => k !== undefined);

for (const k of kernels) {
  test(`zero and duplicate pages (${k.name} kernel, plain and arena buffers)`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.option(fc.tuple(fc.nat(PAGE - 1), fc.integer({ min: 1, max: 255 }))), fc.boolean(), (fill, poke, arena) => {
        const page = arena ? k.allocBuffer(PAGE) : new Uint8Array(PAGE);
        page.fill(fill);
        if (poke) page[poke[0]] = (fill + poke[1]) & 0xff;
        const uniform = poke === null;
        assert.equal(k.isZeroPage(page), uniform && fill === 0);
        assert.equal(k.dupPageByte(page), uniform ? fill : -1);
        if (arena) k.freeBuffer(page);
      }),
      { numRuns: 800 },
    );
  });
}

test('public zero-page functions, odd sizes and empty pages', () => {
  assert.equal(isZeroPage(new Uint8Array(PAGE)), true);
  assert.equal(isZeroPage(new Uint8Array(13)), true);
  const p = new Uint8Array(13);
  p[12] = 1;
  assert.equal(isZeroPage(p), false);
  assert.equal(dupPageByte(new Uint8Array(0)), -1);
  assert.equal(dupPageByte(new Uint8Array(7).fill(9)), 9);
});
