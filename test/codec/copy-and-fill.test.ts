/**
 * copyBytes and fillPage against the plain operations they stand in for (`set` of a subarray,
 * `fill`), over every mix of shared and private memory, alignments, lengths across the bounce
 * page's size, and pages that already hold the fill or differ in one byte anywhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { copyBytes, fillPage, pageHoldsFill } from '../../src/codec/index.js';
import { PAGE } from '../helpers/pages.js';

function bytes(n: number, shared: boolean, seed: number): Uint8Array {
  const a = shared ? new Uint8Array(new SharedArrayBuffer(n)) : new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.imul(i + seed, 2654435761) >>> 24) & 0xff;
  return a;
}

test('copyBytes gives what set(subarray) gives, shared or private, at any alignment', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.boolean(),
      fc.nat(15), // the arrays' own byte offsets in their buffers
      fc.nat(15),
      fc.nat(40),
      fc.nat(40),
      fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: PAGE - 9, max: PAGE + 9 }), fc.integer({ min: 2 * PAGE - 3, max: 2 * PAGE + 100 })),
      fc.nat(1000),
      (srcShared, dstShared, srcBase, dstBase, srcAt, dstAt, n, seed) => {
        const srcAll = bytes(srcBase + srcAt + n + 8, srcShared, seed);
        const dstAll = bytes(dstBase + dstAt + n + 8, dstShared, seed + 1);
        const src = srcAll.subarray(srcBase);
        const dst = dstAll.subarray(dstBase);
        const expected = Uint8Array.from(dst);
        expected.set(src.subarray(srcAt, srcAt + n), dstAt);
        const srcBefore = Uint8Array.from(srcAll);
        copyBytes(dst, dstAt, src, srcAt, n);
        assert.deepEqual(Uint8Array.from(dst), expected);
        assert.deepEqual(Uint8Array.from(srcAll), srcBefore, 'the source is not changed');
      },
    ),
    { numRuns: 600 },
  );
});

test('fillPage makes the page all one byte and touches nothing else; pageHoldsFill tells a filled page', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.nat(7), // the array's byte offset in its buffer (word views need 4-aligned ones)
      fc.nat(2), // which page of three
      fc.integer({ min: 0, max: 255 }),
      fc.option(fc.tuple(fc.nat(PAGE - 1), fc.integer({ min: 1, max: 255 }))),
      fc.boolean(),
      (shared, base, page, fill, poke, sameArrayTwice) => {
        const all = bytes(base + 3 * PAGE, shared, fill);
        const mem = all.subarray(base);
        const at = page * PAGE;
        mem.fill(fill, at, at + PAGE);
        if (poke) mem[at + poke[0]] = (fill + poke[1]) & 0xff;
        assert.equal(pageHoldsFill(mem, at, fill), poke === null);
        const expected = Uint8Array.from(mem);
        expected.fill(fill, at, at + PAGE);
        fillPage(mem, at, fill);
        if (sameArrayTwice) fillPage(mem, at, fill); // a second call on a filled page changes nothing
        assert.deepEqual(Uint8Array.from(mem), expected);
        assert.equal(pageHoldsFill(mem, at, fill), true);
      },
    ),
    { numRuns: 600 },
  );
});

test('fillPage switches between arrays and fill bytes without using a stale view or pattern', () => {
  const a = new Uint8Array(new SharedArrayBuffer(2 * PAGE));
  const b = new Uint8Array(2 * PAGE).fill(3);
  fillPage(a, PAGE, 7);
  fillPage(b, 0, 9);
  fillPage(a, 0, 9);
  fillPage(b, PAGE, 0);
  assert.ok(a.subarray(0, PAGE).every((x) => x === 9) && a.subarray(PAGE).every((x) => x === 7));
  assert.ok(b.subarray(0, PAGE).every((x) => x === 9) && b.subarray(PAGE).every((x) => x === 0));
});
