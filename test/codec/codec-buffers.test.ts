/**
 * The public codec functions on buffers from allocCodecBuffer (pages in the SIMD kernel's own
 * memory, read in place): pages, outputs and deltas at any offset of such buffers, mixed with
 * plain arrays, any budget, against the reference models; and the buffers' life cycle.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  allocCodecBuffer, allocCodecPage, freeCodecBuffer, getKernel, isCodecBuffer, selectedKernel,
  xbrleDecode, xbrleEncode, xbzrleDecode, xbzrleEncode,
} from '../../src/codec/index.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { PAGE, buildPair, codecSizes, embedIn, pagePairSpec } from '../helpers/pages.js';
import { referenceText, referenceXbrleEncode, referenceXbzrleDecode, referenceXbzrleEncode, resultText } from './reference.js';

const simd = selectedKernel().name === 'wasm-simd';
const held: Uint8Array[] = [];
after(() => held.forEach(freeCodecBuffer));

/** A kernel buffer of `lead` + `size` + `trail` bytes filled with `fill`, `bytes` at `lead`, or a plain one. */
function place(bytes: Uint8Array, lead: number, trail: number, fill: number, inKernel: boolean): { buf: Uint8Array; view: Uint8Array } {
  const buf = inKernel ? allocCodecBuffer(lead + bytes.length + trail) : new Uint8Array(lead + bytes.length + trail);
  if (inKernel) held.push(buf);
  return embedIn(buf, bytes, lead, fill);
}

const sizes = codecSizes;
const layout = fc.record({
  size: sizes,
  budgetSeed: fc.nat(),
  budgetKind: fc.constantFrom('page' as const, 'tiny' as const, 'any' as const),
  oldLead: fc.nat(130),
  curLead: fc.nat(130),
  outLead: fc.nat(130),
  trail: fc.nat(9),
  // which of old, cur, out are kernel buffers (cur in the kernel's memory is the in-place path)
  oldIn: fc.boolean(),
  curIn: fc.constantFrom(true, true, false),
  outIn: fc.boolean(),
});

describe('public codec functions on kernel buffers (allocCodecBuffer)', () => {
  test('the buffers are kernel memory under the SIMD kernel, zero-filled, and can be given back', () => {
    const a = allocCodecPage();
    assert.equal(a.length, PAGE);
    assert.ok(a.every((b) => b === 0));
    assert.equal(isCodecBuffer(a), simd);
    assert.equal(isCodecBuffer(a.subarray(100, 200)), simd);
    assert.equal(isCodecBuffer(new Uint8Array(PAGE)), false);
    assert.equal(isCodecBuffer(a.slice()), false, 'a copy is plain memory');
    if (simd) assert.ok(a.buffer instanceof SharedArrayBuffer);
    a.fill(9);
    freeCodecBuffer(a);
    const b = allocCodecPage();
    assert.ok(b.every((x) => x === 0), 'a reused buffer comes back zeroed');
    freeCodecBuffer(b);
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 31]) assert.throws(() => allocCodecBuffer(bad), InvalidArgumentError);
  });

  test('a buffer stays valid, and is still read in place, after the memory grew', () => {
    const first = allocCodecPage();
    const big = allocCodecBuffer(8 << 20); // forces growth
    const [old, cur] = buildPair({ base: 'random', seed: 5, edits: [{ off: 7, len: 3, mode: 'random' }] });
    first.set(cur);
    const oldK = allocCodecPage();
    oldK.set(old);
    const out = allocCodecPage();
    assert.equal(isCodecBuffer(first), simd);
    const n = xbzrleEncode(oldK, first, out);
    assert.equal(resultText(n, out), referenceText(referenceXbzrleEncode(old, cur, PAGE)));
    [first, big, oldK, out].forEach(freeCodecBuffer);
  });

  for (const codec of ['xbzrle', 'xbrle'] as const) {
    test(`property: ${codec}Encode on kernel buffers at any offset, any budget, gives the model's bytes`, () => {
      const encode = codec === 'xbzrle' ? xbzrleEncode : xbrleEncode;
      const model = codec === 'xbzrle' ? referenceXbzrleEncode : referenceXbrleEncode;
      const ts = getKernel('ts')!;
      fc.assert(
        fc.property(pagePairSpec, layout, (spec, l) => {
          const mark = held.length;
          const [old, cur] = buildPair({ ...spec, edits: spec.edits.map((e) => ({ ...e, off: e.off % l.size })) }, l.size);
          const budget = l.budgetKind === 'page' ? l.size : l.budgetKind === 'tiny' ? 1 + (l.budgetSeed % 4) : 1 + (l.budgetSeed % (l.size + 64));
          const o = place(old, l.oldLead, l.trail, 0xee, l.oldIn).view;
          const c = place(cur, l.curLead, l.trail, 0xee, l.curIn).view;
          const { buf: outBuf, view: out } = place(new Uint8Array(budget), l.outLead, l.trail, 0x5a, l.outIn);
          const n = encode(o, c, out);
          const want = referenceText(model(old, cur, budget));
          assert.equal(resultText(n, out), want, `size ${l.size}, budget ${budget}`);
          const tsOut = new Uint8Array(budget);
          assert.equal(resultText(codec === 'xbzrle' ? ts.xbzrleEncode(old, cur, tsOut) : ts.xbrleEncode(old, cur, tsOut), tsOut), want, 'TS kernel');
          assert.ok(outBuf.subarray(0, l.outLead).every((b) => b === 0x5a), 'a byte before out changed');
          assert.ok(outBuf.subarray(l.outLead + budget).every((b) => b === 0x5a), 'a byte after out changed');
          assert.deepEqual(Uint8Array.from(o), old, 'old changed');
          assert.deepEqual(Uint8Array.from(c), cur, 'cur changed');
          held.splice(mark).forEach(freeCodecBuffer);
        }),
        { numRuns: 500 },
      );
    });
  }

  test('property: xbzrleDecode and xbrleDecode patch kernel buffers at any offset and nothing around them', () => {
    fc.assert(
      fc.property(pagePairSpec, fc.nat(130), fc.nat(130), fc.nat(9), fc.boolean(), fc.boolean(), (spec, deltaLead, pageLead, trail, xbrle, deltaIn) => {
        const mark = held.length;
        const [old, cur] = buildPair(spec);
        const d = xbrle ? referenceXbrleEncode(old, cur, PAGE * 2) : referenceXbzrleEncode(old, cur, PAGE);
        if (!Array.isArray(d)) return;
        const { view: delta } = place(Uint8Array.from(d), deltaLead, trail, 0x33, deltaIn);
        const { buf, view: page } = place(old, pageLead, trail, 0x77, true);
        if (xbrle) xbrleDecode(delta, page);
        else xbzrleDecode(delta, page);
        const want = xbrle ? cur : (referenceXbzrleDecode(Uint8Array.from(d), old) as { page: Uint8Array }).page;
        assert.deepEqual(Uint8Array.from(page), want);
        assert.ok(buf.subarray(0, pageLead).every((b) => b === 0x77) && buf.subarray(pageLead + PAGE).every((b) => b === 0x77), 'a byte around the page changed');
        held.splice(mark).forEach(freeCodecBuffer);
      }),
      { numRuns: 400 },
    );
  });
});
