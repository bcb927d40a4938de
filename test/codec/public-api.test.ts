/**
 * The public codec functions (`livemig/codec`) on plain Uint8Arrays, the way a library user
 * calls them: pages and outputs that are subarrays at any offset of larger buffers (old and
 * cur sometimes in the same buffer), any budget, page sizes the SIMD kernel takes and sizes it
 * does not. The selected kernel copies plain pages into its own memory, or first compares them
 * with memcmp while most recent pages were unchanged: both ways must give the model's bytes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dupPageByte, isZeroPage, xbrleDecode, xbrleEncode, xbzrleDecode, xbzrleEncode } from '../../src/codec/index.js';
import { PAGE, buildPair, codecSizes, embedIn, pagePairSpec, randomPage } from '../helpers/pages.js';
import { referenceText, referenceXbrleEncode, referenceXbzrleDecode, referenceXbzrleEncode, resultText } from './reference.js';

/**
 * Runs 40 plain-array encodes of unchanged (`unchanged` true) or changed pages first, so that
 * the encoder's running share of unchanged pages is high (memcmp first) or low (copy first).
 */
function prime(unchanged: boolean): void {
  const a = randomPage(99);
  const b = a.slice();
  if (!unchanged) b[100] ^= 1;
  const out = new Uint8Array(PAGE);
  for (let i = 0; i < 40; i++) xbzrleEncode(a, b, out);
}

/** `bytes` copied into a buffer of `lead` + bytes + `trail` bytes filled with `fill`; the view of them. */
function embed(bytes: Uint8Array, lead: number, trail: number, fill: number): { buf: Uint8Array; view: Uint8Array } {
  return embedIn(new Uint8Array(lead + bytes.length + trail), bytes, lead, fill);
}

const sizes = codecSizes;
const layout = fc.record({
  size: sizes,
  budgetSeed: fc.nat(),
  budgetKind: fc.constantFrom('page' as const, 'tiny' as const, 'any' as const),
  oldLead: fc.nat(70),
  curLead: fc.nat(70),
  outLead: fc.nat(70),
  trail: fc.nat(9),
  sameBuffer: fc.boolean(),
  memcmpFirst: fc.boolean(),
});

describe('public codec functions on plain Uint8Arrays', () => {
  for (const codec of ['xbzrle', 'xbrle'] as const) {
    test(`property: ${codec}Encode gives the model's bytes on subarrays at any offset, any budget, memcmp first or not`, () => {
      const encode = codec === 'xbzrle' ? xbzrleEncode : xbrleEncode;
      const model = codec === 'xbzrle' ? referenceXbzrleEncode : referenceXbrleEncode;
      fc.assert(
        fc.property(pagePairSpec, layout, (spec, l) => {
          const [old, cur] = buildPair({ ...spec, edits: spec.edits.map((e) => ({ ...e, off: e.off % l.size })) }, l.size);
          const budget = l.budgetKind === 'page' ? l.size : l.budgetKind === 'tiny' ? 1 + (l.budgetSeed % 4) : 1 + (l.budgetSeed % (l.size + 64));
          let o: Uint8Array;
          let c: Uint8Array;
          if (l.sameBuffer) {
            // both pages in one buffer, old first, cur after a gap
            const buf = new Uint8Array(l.oldLead + l.size + l.curLead + l.size + l.trail).fill(0xee);
            buf.set(old, l.oldLead);
            buf.set(cur, l.oldLead + l.size + l.curLead);
            o = buf.subarray(l.oldLead, l.oldLead + l.size);
            c = buf.subarray(l.oldLead + l.size + l.curLead, l.oldLead + 2 * l.size + l.curLead);
          } else {
            o = embed(old, l.oldLead, l.trail, 0xee).view;
            c = embed(cur, l.curLead, l.trail, 0xee).view;
          }
          const { buf: outBuf, view: out } = embed(new Uint8Array(budget), l.outLead, l.trail, 0x5a);
          prime(l.memcmpFirst);
          const n = encode(o, c, out);
          assert.equal(resultText(n, out), referenceText(model(old, cur, budget)), `size ${l.size}, budget ${budget}`);
          assert.ok(outBuf.subarray(0, l.outLead).every((b) => b === 0x5a), 'a byte before out changed');
          assert.ok(outBuf.subarray(l.outLead + budget).every((b) => b === 0x5a), 'a byte after out changed');
          assert.deepEqual(o, old, 'old changed');
          assert.deepEqual(c, cur, 'cur changed');
        }),
        { numRuns: 600 },
      );
    });
  }

  test('with mostly unchanged pages the encoder compares with memcmp first, with mostly changed pages it does not', () => {
    // the two paths the property above covers: this shows both are taken
    const compare = Buffer.compare;
    let calls = 0;
    Buffer.compare = (a: Uint8Array, b: Uint8Array) => {
      calls++;
      return compare(a, b);
    };
    try {
      prime(true);
      calls = 0;
      const p = randomPage(3);
      assert.equal(xbzrleEncode(p, p.slice(), new Uint8Array(PAGE)), 0);
      assert.equal(calls, 1, 'memcmp first after unchanged pages');
      prime(false);
      calls = 0;
      assert.equal(xbzrleEncode(p, p.slice(), new Uint8Array(PAGE)), 0);
      assert.equal(calls, 0, 'no memcmp after changed pages');
    } finally {
      Buffer.compare = compare;
    }
  });

  test('property: xbzrleDecode and xbrleDecode patch subarrays at any offset and nothing around them', () => {
    fc.assert(
      fc.property(pagePairSpec, fc.nat(70), fc.nat(70), fc.nat(9), fc.boolean(), (spec, deltaLead, pageLead, trail, xbrle) => {
        const [old, cur] = buildPair(spec);
        const d = xbrle ? referenceXbrleEncode(old, cur, PAGE * 2) : referenceXbzrleEncode(old, cur, PAGE);
        if (!Array.isArray(d)) return;
        const { view: delta } = embed(Uint8Array.from(d), deltaLead, trail, 0x33);
        const { buf, view: page } = embed(old, pageLead, trail, 0x77);
        if (xbrle) xbrleDecode(delta, page);
        else xbzrleDecode(delta, page);
        const want = xbrle ? cur : (referenceXbzrleDecode(Uint8Array.from(d), old) as { page: Uint8Array }).page;
        assert.deepEqual(page, want);
        assert.ok(buf.subarray(0, pageLead).every((b) => b === 0x77) && buf.subarray(pageLead + PAGE).every((b) => b === 0x77), 'a byte around the page changed');
      }),
      { numRuns: 600 },
    );
  });

  test('property: isZeroPage and dupPageByte on subarrays at any offset, any size', () => {
    const anySize = fc.oneof(fc.constant(PAGE), fc.integer({ min: 0, max: 300 }).map((b) => b * 64), fc.integer({ min: 0, max: 20000 }));
    fc.assert(
      fc.property(anySize, fc.nat(70), fc.nat(255), fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }))), (size, lead, fill, poke) => {
        const { view: page } = embed(new Uint8Array(size).fill(fill), lead, 3, fill ^ 1);
        if (poke && size > 0) page[poke[0] % size] = (fill + poke[1]) & 0xff;
        const uniform = page.every((b) => b === page[0]);
        assert.equal(isZeroPage(page), page.every((b) => b === 0));
        assert.equal(dupPageByte(page), uniform && size > 0 ? page[0] : -1);
      }),
      { numRuns: 800 },
    );
  });
});
