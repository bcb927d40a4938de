import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getKernel, xbrleDecode, xbrleEncode, DeltaError, XBRLE_BUDGET_BYTES, InvalidArgumentError } from '../../src/index.js';
import type { DeltaKernel } from '../../src/index.js';
import { xbrleDecodeAt } from '../../src/codec/index.js';
import { PAGE, blockSizedPair, buildPair, fromHex, hex, pagePairSpec, randomPage } from '../helpers/pages.js';
import { referenceText, referenceXbrleEncode, resultText } from './reference.js';

const kernels = [getKernel('ts')!, getKernel('wasm-simd')].filter((k): k is DeltaKernel => k !== undefined);

const asHex = (r: number[] | number): string | number => (Array.isArray(r) ? hex(Uint8Array.from(r)) : r);

for (const k of kernels) {
  describe(`xbrle encode (${k.name} kernel)`, () => {
    test('one changed 32-bit word: XOR runs as (count, byte) pairs over the whole page', () => {
      const old = new Uint8Array(PAGE);
      const cur = new Uint8Array(PAGE);
      cur.set([1, 2, 3, 4], 1000);
      const out = new Uint8Array(XBRLE_BUDGET_BYTES);
      const n = k.xbrleEncode(old, cur, out);
      // 1000 zeros = 255*3 + 235, the four bytes, then 3092 zeros = 255*12 + 32
      assert.equal(hex(out.subarray(0, n)), 'ff00'.repeat(3) + 'eb00' + '0101010201030104' + 'ff00'.repeat(12) + '2000');
    });

    test('unchanged pages encode to 0; a dense page overflows the third-of-a-page budget', () => {
      const p = randomPage(5);
      assert.equal(k.xbrleEncode(p, p.slice(), new Uint8Array(XBRLE_BUDGET_BYTES)), 0);
      const cur = p.slice();
      for (let i = 0; i < PAGE; i += 2) cur[i] ^= 0x11;
      assert.equal(k.xbrleEncode(p, cur, new Uint8Array(XBRLE_BUDGET_BYTES)), -1);
    });

    test('property: same bytes as the byte-at-a-time model, for any budget', () => {
      fc.assert(
        fc.property(pagePairSpec, fc.oneof(fc.constant(XBRLE_BUDGET_BYTES), fc.integer({ min: 0, max: PAGE * 2 })), (spec, budget) => {
          const [old, cur] = buildPair(spec);
          const out = new Uint8Array(budget);
          const n = k.xbrleEncode(old, cur, out);
          assert.equal(n > 0 ? hex(out.subarray(0, n)) : n, asHex(referenceXbrleEncode(old, cur, budget)));
        }),
        { numRuns: 1500 },
      );
    });

    test('property: round trip', () => {
      fc.assert(
        fc.property(pagePairSpec, (spec) => {
          const [old, cur] = buildPair(spec);
          const out = new Uint8Array(PAGE * 2);
          const n = k.xbrleEncode(old, cur, out);
          const page = old.slice();
          if (n > 0) xbrleDecode(out.subarray(0, n), page);
          assert.deepEqual(page, cur);
        }),
        { numRuns: 1000 },
      );
    });
  });
}

test('xbrle: wasm-simd and ts kernels give identical bytes (differential)', () => {
  const [ts, wasm] = [getKernel('ts')!, getKernel('wasm-simd')!];
  fc.assert(
    fc.property(pagePairSpec, fc.integer({ min: 1, max: PAGE }), (spec, budget) => {
      const [old, cur] = buildPair(spec);
      const a = new Uint8Array(budget);
      const b = new Uint8Array(budget);
      const na = ts.xbrleEncode(old, cur, a);
      assert.equal(wasm.xbrleEncode(old, cur, b), na);
      if (na > 0) assert.deepEqual(a.subarray(0, na), b.subarray(0, na));
    }),
    { numRuns: 1500 },
  );
});

test('xbrle: a page whose encoding is exactly the density bound (4 x runs - 2) fits a budget of that size', () => {
  // changed first and last bytes, an equal run between: three (count, byte) pairs, 6 bytes,
  // which is 4 x 2 runs - 2: the early give-up must not refuse it
  for (const k of [getKernel('ts')!, getKernel('wasm-simd')!]) {
    for (const size of [4, 64, 256]) {
      const old = new Uint8Array(size);
      const cur = old.slice();
      cur[0] = 1;
      cur[size - 1] = 2;
      const out = new Uint8Array(6);
      const n = k.xbrleEncode(old, cur, out);
      assert.equal(n, 6, `${k.name}, ${size}-byte page`);
      assert.deepEqual(Array.from(out), referenceXbrleEncode(old, cur, 6));
      assert.equal(k.xbrleEncode(old, cur, new Uint8Array(5)), -1, `${k.name}, ${size}-byte page, budget 5`);
    }
  }
});

test('xbrle: wasm-simd matches the reference at every page size it takes (multiples of 64, changes at 64-byte block edges)', () => {
  const wasm = getKernel('wasm-simd')!;
  fc.assert(
    fc.property(pagePairSpec, fc.integer({ min: 1, max: 130 }), fc.array(fc.nat(255), { maxLength: 6 }), fc.integer({ min: 0, max: 0x3fff }), (spec, blocks, edges, budgetSeed) => {
      const { old, cur, size } = blockSizedPair(spec, blocks, edges);
      const budget = 1 + (budgetSeed % size);
      const out = new Uint8Array(budget);
      const n = wasm.xbrleEncode(old, cur, out);
      const want = referenceXbrleEncode(old, cur, budget);
      assert.equal(resultText(n, out), referenceText(want), `size ${size}, budget ${budget}`);
    }),
    { numRuns: 1000 },
  );
});

describe('xbrle decode', () => {
  const full = (pairs: string) => fromHex(pairs);
  const rejects: [string, Uint8Array, number, RegExp][] = [
    ['an odd length', fromHex('ff00ff'), 2, /odd delta length 3/],
    ['a run count of 0', fromHex('0000'), 0, /run count of 0/],
    ['runs that expand past the page', full('ff00'.repeat(17)), 32, /expand past the 4096-byte page/],
    ['runs that stop short of the page', full('ff00'.repeat(16)), 32, /expand to 4080 bytes, not the 4096-byte page/],
  ];
  for (const [what, delta, offset, message] of rejects) {
    test(`rejects ${what} at offset ${offset}, page unchanged`, () => {
      const p = randomPage(9);
      const before = p.slice();
      assert.throws(() => xbrleDecode(delta, p), (e: unknown) => e instanceof DeltaError && e.offset === offset && message.test(e.message));
      assert.deepEqual(p, before);
    });
  }

  test('property: arbitrary pairs either decode or throw DeltaError with the page untouched', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }), (pairs) => {
        const delta = Uint8Array.from(pairs.flat());
        const p = randomPage(13);
        const before = p.slice();
        try {
          xbrleDecode(delta, p);
        } catch (e) {
          assert.ok(e instanceof DeltaError);
          assert.deepEqual(p, before);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('property: xbrleDecodeAt inside larger buffers gives xbrleDecode\'s page or rejection offset, touching nothing outside the page', () => {
    const nearValid = fc.array(fc.integer({ min: 1, max: 255 }), { minLength: 1, maxLength: 40 }).chain((counts) => {
      // counts that add up to the page, then perhaps broken by one edit
      const runs: number[] = [];
      let left = PAGE;
      for (const c of counts) if (left > 0) { const n = Math.min(c, left); runs.push(n); left -= n; }
      while (left > 0) { const n = Math.min(255, left); runs.push(n); left -= n; }
      return fc.tuple(fc.constant(runs), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: runs.length, maxLength: runs.length }), fc.integer({ min: -1, max: runs.length * 2 }), fc.integer({ min: 0, max: 255 }));
    }).map(([runs, values, at, v]) => {
      const d = Uint8Array.from(runs.flatMap((n, k) => [n, values[k]!]));
      if (at >= 0 && at < d.length) d[at] = v;
      return at === d.length ? d.subarray(0, d.length - 1) : d;
    });
    const anyDelta = fc.oneof(nearValid, fc.uint8Array({ maxLength: 48 }));
    fc.assert(
      fc.property(anyDelta, fc.nat(9), fc.nat(7), fc.nat(3), (delta, lead, trail, slot) => {
        const buf = new Uint8Array(lead + delta.length + trail).fill(0x01);
        buf.set(delta, lead);
        const mem = randomPage(5, PAGE * 4);
        const before = mem.slice();
        const alone = before.slice(slot * PAGE, (slot + 1) * PAGE);
        let expected: unknown;
        try {
          xbrleDecode(delta.slice(), alone);
        } catch (e) {
          expected = e;
        }
        let thrown: unknown;
        try {
          xbrleDecodeAt(buf, lead, delta.length, mem, slot * PAGE, PAGE);
        } catch (e) {
          thrown = e;
        }
        if (expected !== undefined) {
          assert.ok(expected instanceof DeltaError && thrown instanceof DeltaError, `expected ${String(expected)}, got ${String(thrown)}`);
          assert.equal(thrown.offset, expected.offset);
          assert.deepEqual(mem, before);
        } else {
          assert.equal(thrown, undefined);
          assert.deepEqual(mem.subarray(slot * PAGE, (slot + 1) * PAGE), alone);
          mem.set(before.subarray(slot * PAGE, (slot + 1) * PAGE), slot * PAGE);
          assert.deepEqual(mem, before, 'a byte outside the page changed');
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('xbrleDecodeAt refuses ranges outside its buffers', () => {
    const mem = new Uint8Array(PAGE);
    assert.throws(() => xbrleDecodeAt(new Uint8Array(4), 2, 4, mem, 0, PAGE), (e: unknown) => e instanceof InvalidArgumentError && /delta range 2\+4 of a 4-byte buffer/.test(e.message));
    assert.throws(() => xbrleDecodeAt(new Uint8Array(4), 0, 0, mem, 1, PAGE), InvalidArgumentError);
  });

  test('argument checks match xbzrleEncode', () => {
    assert.throws(() => xbrleEncode(new Uint8Array(8), new Uint8Array(16), new Uint8Array(8)), InvalidArgumentError);
  });
});
