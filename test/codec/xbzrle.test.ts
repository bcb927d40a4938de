import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getKernel, xbzrleDecode, xbzrleDecodeAt, xbzrleEncode, DeltaError, InvalidArgumentError } from '../../src/index.js';
import type { DeltaKernel } from '../../src/index.js';
import { PAGE, blockSizedPair, buildPair, fromHex, hex, pagePairSpec, randomPage } from '../helpers/pages.js';
import { referenceText, referenceXbzrleDecode, referenceXbzrleEncode, resultText } from './reference.js';

const kernels = [getKernel('ts')!, getKernel('wasm-simd')].filter((k): k is DeltaKernel => k !== undefined);

test('the WebAssembly SIMD kernel loads on this machine', () => {
  assert.equal(getKernel('wasm-simd')?.name, 'wasm-simd');
});

/** Encodes with a kernel, also through its arena buffers, and checks both paths agree. */
function encode(k: DeltaKernel, old: Uint8Array, cur: Uint8Array, dlen = PAGE): Uint8Array | -1 | 0 {
  const out = new Uint8Array(dlen);
  const n = k.xbzrleEncode(old, cur, out);
  const a = k.allocBuffer(old.length);
  const b = k.allocBuffer(cur.length);
  const o = k.allocBuffer(dlen);
  a.set(old);
  b.set(cur);
  const m = k.xbzrleEncode(a, b, o);
  const inPlace = m > 0 ? hex(o.subarray(0, m)) : m;
  k.freeBuffer(a);
  k.freeBuffer(b);
  k.freeBuffer(o);
  assert.equal(inPlace, n > 0 ? hex(out.subarray(0, n)) : n, `${k.name}: arena and plain buffers disagree`);
  return n > 0 ? out.slice(0, n) : (n as -1 | 0);
}

function docExample(): [Uint8Array, Uint8Array] {
  const old = new Uint8Array(PAGE);
  const cur = new Uint8Array(PAGE);
  for (let i = 0; i < 15; i++) cur[1001 + i] = i + 1;
  cur[1019] = 0x67;
  cur[1021] = 0x69;
  return [old, cur];
}

for (const k of kernels) {
  describe(`xbzrle encode (${k.name} kernel)`, () => {
    test('QEMU docs/xbzrle.txt example encodes to its 24 bytes', () => {
      const [old, cur] = docExample();
      const r = encode(k, old, cur);
      assert.ok(r instanceof Uint8Array);
      assert.equal(hex(r), 'e9070f0102030405060708090a0b0c0d0e0f030167010169');
    });

    test('the XBZRLE vectors of docs/stream-format.md', () => {
      const zero = new Uint8Array(PAGE);
      const with_ = (f: (p: Uint8Array) => void): Uint8Array => {
        const p = new Uint8Array(PAGE);
        f(p);
        return p;
      };
      assert.equal(encode(k, zero, zero.slice()), 0);
      assert.equal(hex(encode(k, zero, with_((p) => (p[4095] = 1))) as Uint8Array), 'ff1f0101');
      assert.equal(hex(encode(k, zero, with_((p) => (p[0] = 1))) as Uint8Array), '000101');
      assert.equal(hex(encode(k, zero, with_((p) => { p[0] = 0xff; p[1] = 0xfe; p[8] = 1; })) as Uint8Array), '0002fffe060101');
      const every3 = (count: number) => with_((p) => { for (let i = 0; i < count; i++) p[i * 3] = 1; });
      assert.equal((encode(k, zero, every3(1364)) as Uint8Array).length, 4092);
      assert.equal(encode(k, zero, every3(1365)), -1);
      assert.equal(encode(k, zero, with_((p) => { for (let i = 0; i < PAGE; i += 2) p[i] = 1; })), -1);
      assert.equal(encode(k, zero, new Uint8Array(PAGE).fill(7)), -1);
    });

    test("QEMU's overflow edge: a trailing unchanged run needs two bytes of room", () => {
      const zero = new Uint8Array(PAGE);
      const first = new Uint8Array(PAGE);
      first[0] = 1;
      assert.equal(encode(k, zero, first, 3), -1);
      assert.equal(encode(k, zero, first, 4), -1);
      assert.equal(hex(encode(k, zero, first, 5) as Uint8Array), '000101');
      const last = new Uint8Array(PAGE);
      last[4095] = 1;
      assert.equal(hex(encode(k, zero, last, 4) as Uint8Array), 'ff1f0101');
      assert.equal(encode(k, zero, last, 3), -1);
    });

    test('an encoding of exactly the budget is returned', () => {
      // 1365 changes every third byte from offset 0 need 1 + 1365 * 3 = 4096 bytes... then a trailing run: -1.
      // Changes every third byte ending at the page end fit exactly: zrun 2 at the start, then (1,1,x) pairs.
      const zero = new Uint8Array(PAGE);
      const cur = new Uint8Array(PAGE);
      for (let i = PAGE - 1; i >= 0; i -= 3) cur[i] = 1;
      const want = referenceXbzrleEncode(zero, cur, PAGE);
      const got = encode(k, zero, cur);
      assert.equal(got instanceof Uint8Array ? hex(got) : got, referenceText(want));
    });

    test('QEMU unit tests: unchanged pages encode to 0, 1 byte, overflow', () => {
      for (let seed = 1; seed < 50; seed++) {
        const p = randomPage(seed);
        assert.equal(encode(k, p, p.slice()), 0);
      }
      const zero = new Uint8Array(PAGE);
      const one = new Uint8Array(PAGE);
      one[4095] = 1;
      const d = encode(k, zero, one) as Uint8Array;
      assert.equal(d.length, 4);
      const page = new Uint8Array(PAGE);
      xbzrleDecode(d, page);
      assert.deepEqual(page, one);
      const alt = new Uint8Array(PAGE);
      for (let i = 0; i < 2047; i++) alt[i * 2] = 1;
      assert.equal(encode(k, zero, alt), -1);
    });

    test('QEMU unit test encode_decode: 2000 random ranges round-trip and stay under a page', () => {
      const rnd = fc.sample(fc.tuple(fc.integer({ min: 0, max: PAGE - 1006 - 1 }), fc.integer({ min: 1, max: 0x7fffffff })), { numRuns: 2000, seed: 42 });
      for (const [diffLen, seed] of rnd) {
        const old = randomPage(seed);
        const cur = old.slice();
        for (let i = 0; i < diffLen; i++) cur[1000 + 1 + i] = old[1000 + 1 + i]! ^ ((i % 255) + 1);
        cur[1000 + diffLen + 3] = old[1000 + diffLen + 3]! ^ 0x55;
        cur[1000 + diffLen + 5] = old[1000 + diffLen + 5]! ^ 0xaa;
        const d = encode(k, old, cur);
        assert.ok(d instanceof Uint8Array && d.length < PAGE);
        const page = old.slice();
        xbzrleDecode(d, page);
        assert.deepEqual(page, cur);
      }
    });

    test('property: same bytes as the byte-at-a-time model for any page pair and budget', () => {
      fc.assert(
        fc.property(pagePairSpec, fc.oneof(fc.constant(PAGE), fc.integer({ min: 1, max: PAGE + 64 })), (spec, dlen) => {
          const [old, cur] = buildPair(spec);
          const want = referenceXbzrleEncode(old, cur, dlen);
          const got = encode(k, old, cur, dlen);
          assert.equal(got instanceof Uint8Array ? hex(got) : got, referenceText(want));
        }),
        { numRuns: 1500 },
      );
    });

    test('property: decode(encode(old, cur)) applied to old gives cur', () => {
      fc.assert(
        fc.property(pagePairSpec, (spec) => {
          const [old, cur] = buildPair(spec);
          const d = encode(k, old, cur);
          if (d === -1) return;
          const page = old.slice();
          if (d !== 0) xbzrleDecode(d, page);
          assert.deepEqual(page, cur);
        }),
        { numRuns: 1500 },
      );
    });

    test('pages that are not word aligned or not a multiple of 64 bytes give the same bytes', () => {
      fc.assert(
        fc.property(pagePairSpec, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 200 }), (spec, shift, size) => {
          const [old, cur] = buildPair(spec);
          const bo = new Uint8Array(PAGE + 8);
          const bc = new Uint8Array(PAGE + 8);
          bo.set(old, shift);
          bc.set(cur, shift);
          const o = bo.subarray(shift, shift + PAGE);
          const c = bc.subarray(shift, shift + PAGE);
          const out = new Uint8Array(PAGE);
          const n = k.xbzrleEncode(o, c, out);
          const want = referenceXbzrleEncode(old, cur, PAGE);
          assert.equal(resultText(n, out), referenceText(want));
          const small = referenceXbzrleEncode(old.subarray(0, size), cur.subarray(0, size), size);
          const out2 = new Uint8Array(size);
          const m = k.xbzrleEncode(old.subarray(0, size), cur.subarray(0, size), out2);
          assert.equal(resultText(m, out2), referenceText(small));
        }),
        { numRuns: 300 },
      );
    });
  });
}

test('wasm-simd and ts kernels give identical bytes (differential)', () => {
  const [ts, wasm] = [getKernel('ts')!, getKernel('wasm-simd')!];
  fc.assert(
    fc.property(pagePairSpec, fc.integer({ min: 1, max: PAGE }), (spec, dlen) => {
      const [old, cur] = buildPair(spec);
      const a = new Uint8Array(dlen);
      const b = new Uint8Array(dlen);
      const na = ts.xbzrleEncode(old, cur, a);
      const nb = wasm.xbzrleEncode(old, cur, b);
      assert.equal(na, nb);
      if (na > 0) assert.deepEqual(a.subarray(0, na), b.subarray(0, nb));
    }),
    { numRuns: 2000 },
  );
});

test('wasm-simd matches the reference at every page size it takes (multiples of 64, changes at any 64/128-byte block edge)', () => {
  // the kernel's scan skips unchanged 128-byte blocks, then looks at 64-byte blocks one at a
  // time: sizes that are odd multiples of 64, and changes on either side of those edges
  const wasm = getKernel('wasm-simd')!;
  fc.assert(
    fc.property(pagePairSpec, fc.integer({ min: 1, max: 130 }), fc.array(fc.nat(255), { maxLength: 6 }), fc.integer({ min: 0, max: 0x3fff }), (spec, blocks, edges, dlenSeed) => {
      const { old, cur, size } = blockSizedPair(spec, blocks, edges);
      const dlen = 1 + (dlenSeed % size);
      const out = new Uint8Array(dlen);
      const n = wasm.xbzrleEncode(old, cur, out);
      const want = referenceXbzrleEncode(old, cur, dlen);
      assert.equal(resultText(n, out), referenceText(want), `size ${size}, dlen ${dlen}`);
    }),
    { numRuns: 1500 },
  );
});

describe('xbzrle decode', () => {
  const page = () => randomPage(7);
  const rejects: [string, string, number, RegExp][] = [
    ['a single dangling byte', '05', 0, /zero-run length needs 2 bytes/],
    ['a three-byte zero-run length', '808001', 0, /longer than two ULEB128 bytes/],
    ['a three-byte changed-run length', '00808001', 1, /longer than two ULEB128 bytes/],
    ['a zero run of length 0 after the first', '0001aa0001bb', 3, /zero run of length 0 after the first run/],
    ['a zero run past the page', '812001ff', 0, /past the 4096-byte page/],
    ['a changed run of length 0', '0500aa', 1, /changed run of length 0/],
    ['no byte after a changed-run length', '0501', 1, /needs a length and at least one byte/],
    ['a changed run past the page', 'ff1f02aabb', 2, /passes the 4096-byte page/],
    ['a changed run past the delta', '0003aabb', 1, /passes the end of the 4-byte delta/],
    ['a dangling byte after a pair', '0001aa05', 3, /zero-run length needs 2 bytes, 1 left/],
  ];
  for (const [what, delta, offset, message] of rejects) {
    test(`rejects ${what}, naming offset ${offset}, leaving the page unchanged`, () => {
      const p = page();
      const before = p.slice();
      assert.throws(() => xbzrleDecode(fromHex(delta), p), (e: unknown) => {
        assert.ok(e instanceof DeltaError);
        assert.equal(e.code, 'DELTA_INVALID');
        assert.equal(e.offset, offset);
        assert.match(e.message, message);
        assert.match(e.message, new RegExp(`at payload offset ${offset}$`));
        return true;
      });
      assert.deepEqual(p, before);
    });
  }

  test('accepts what QEMU accepts: empty delta, non-canonical ULEB128, a first zero run of 0', () => {
    const p = page();
    const before = p.slice();
    xbzrleDecode(new Uint8Array(0), p);
    assert.deepEqual(p, before);
    xbzrleDecode(fromHex('8100 01 aa'), p); // zero run 1 written as 81 00
    assert.equal(p[1], 0xaa);
    xbzrleDecode(fromHex('00 02 bb cc'), p);
    assert.deepEqual([p[0], p[1]], [0xbb, 0xcc]);
    xbzrleDecode(fromHex('ff1f 01 dd'), p);
    assert.equal(p[4095], 0xdd);
  });

  test('decoding patches in place: zero runs keep the old bytes', () => {
    const p = randomPage(3);
    const before = p.slice();
    xbzrleDecode(fromHex('0a 02 01 02'), p);
    assert.deepEqual(p.subarray(0, 10), before.subarray(0, 10));
    assert.deepEqual([p[10], p[11]], [1, 2]);
    assert.deepEqual(p.subarray(12), before.subarray(12));
  });

  test('property: arbitrary bytes either decode or throw DeltaError with the page untouched', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (delta) => {
        const p = randomPage(11);
        const before = p.slice();
        try {
          xbzrleDecode(delta, p);
        } catch (e) {
          assert.ok(e instanceof DeltaError, String(e));
          assert.ok(e.offset >= 0 && e.offset <= delta.length);
          assert.deepEqual(p, before);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('xbzrle decode at offsets (the destination\'s view-free entry point)', () => {
  // deltas near the valid shapes, where the fast path (one pair, a changed run of 1..127
  // bytes: one ULEB128 byte) could part from the full check: one or two (zero run, changed
  // run) pairs with lengths that may be off by a little, changed runs across the 127/128 edge
  const uleb = (v: number): number[] => (v < 0x80 ? [v] : [(v & 0x7f) | 0x80, (v >>> 7) & 0xff]);
  const runLength = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 120, max: 135 }));
  const nearValid = fc
    .array(fc.record({ z: fc.integer({ min: 0, max: 4200 }), n: runLength, extra: fc.integer({ min: -2, max: 2 }) }), { minLength: 1, maxLength: 2 })
    .chain((pairs) => fc.uint8Array({ minLength: 0, maxLength: 140 }).map((bytes) => {
      const out: number[] = [];
      for (const { z, n, extra } of pairs) out.push(...uleb(z), ...uleb(n), ...bytes.subarray(0, Math.max(0, n + extra)));
      return Uint8Array.from(out);
    }));
  const anyDelta = fc.oneof(nearValid, fc.uint8Array({ maxLength: 48 }));

  test('property: same page or same rejection offset as QEMU\'s rules, inside larger buffers, nothing outside the page touched', () => {
    fc.assert(
      fc.property(anyDelta, fc.nat(9), fc.uint8Array({ maxLength: 8 }), fc.nat(3), (delta, lead, trail, pageSlot) => {
        // the delta sits in a bigger buffer with bytes before and after it that must not be read
        const buf = new Uint8Array(lead + delta.length + trail.length).fill(0x01);
        buf.set(delta, lead);
        buf.set(trail, lead + delta.length);
        const mem = randomPage(5, PAGE * 4);
        const before = mem.slice();
        const expected = referenceXbzrleDecode(delta, before.subarray(pageSlot * PAGE, (pageSlot + 1) * PAGE));
        let thrown: unknown;
        try {
          xbzrleDecodeAt(buf, lead, delta.length, mem, pageSlot * PAGE, PAGE);
        } catch (e) {
          thrown = e;
        }
        if ('errorAt' in expected) {
          assert.ok(thrown instanceof DeltaError, `expected a rejection at ${expected.errorAt}, got ${String(thrown)}`);
          assert.equal(thrown.offset, expected.errorAt);
          assert.deepEqual(mem, before);
        } else {
          assert.equal(thrown, undefined);
          assert.deepEqual(mem.subarray(pageSlot * PAGE, (pageSlot + 1) * PAGE), expected.page);
          mem.set(before.subarray(pageSlot * PAGE, (pageSlot + 1) * PAGE), pageSlot * PAGE);
          assert.deepEqual(mem, before, 'a byte outside the page changed');
        }
      }),
      { numRuns: 4000 },
    );
  });

  test('the fast path\'s edges: a 127-byte run, a two-byte run length, a three-byte zero run on a big page', () => {
    const data = Uint8Array.from({ length: 128 }, (_, k) => k + 1);
    // 127 changed bytes (one ULEB128 byte) at offset 200: applied
    const mem = new Uint8Array(PAGE);
    xbzrleDecodeAt(Uint8Array.from([0x80 | 72, 1, 127, ...data.subarray(0, 127)]), 0, 130, mem, 0, PAGE); // zero run 72 + 1 * 128
    assert.deepEqual(mem.subarray(200, 327), data.subarray(0, 127));
    assert.ok(mem.subarray(0, 200).every((b) => b === 0) && mem.subarray(327).every((b) => b === 0));
    // 0x80 0x01 is a run of 128: with 127 bytes after it the delta is short, whatever 0x80 alone would say
    const short = Uint8Array.from([5, 0x80, 0x01, ...data.subarray(0, 127)]);
    assert.throws(() => xbzrleDecodeAt(short, 0, short.length, mem.fill(0), 0, PAGE), (e: unknown) => e instanceof DeltaError && e.offset === 1);
    assert.ok(mem.every((b) => b === 0));
    // a zero run written with three ULEB128 bytes is refused even where it would fit the page
    const big = new Uint8Array(1 << 20);
    const three = Uint8Array.from([0x81, 0x80, 0x01, 9]); // read as a two-byte run, it would be 16385 zeros and 1 changed byte
    assert.throws(() => xbzrleDecodeAt(three, 0, three.length, big, 0, big.length), (e: unknown) => e instanceof DeltaError && e.offset === 0 && /two ULEB128 bytes/.test(e.message));
    assert.ok(big.every((b) => b === 0));
  });

  test('ranges outside their buffers are refused before anything is read or written', () => {
    const mem = new Uint8Array(PAGE);
    const d = fromHex('0001aa');
    assert.throws(() => xbzrleDecodeAt(d, 1, 3, mem, 0, PAGE), InvalidArgumentError);
    assert.throws(() => xbzrleDecodeAt(d, 0, 3, mem, 1, PAGE), /out of bounds/);
    assert.throws(() => xbzrleDecodeAt(d, -1, 3, mem, 0, PAGE), InvalidArgumentError);
    assert.throws(() => xbzrleDecodeAt(d, 0.5, 2, mem, 0, PAGE), InvalidArgumentError);
    assert.ok(mem.every((b) => b === 0));
  });
});

describe('argument checks', () => {
  test('pages of different lengths, empty pages and pages over 16383 bytes are refused', () => {
    assert.throws(() => xbzrleEncode(new Uint8Array(4096), new Uint8Array(4095), new Uint8Array(4096)), InvalidArgumentError);
    assert.throws(() => xbzrleEncode(new Uint8Array(0), new Uint8Array(0), new Uint8Array(4096)), /page size 0 is outside/);
    assert.throws(() => xbzrleEncode(new Uint8Array(16384), new Uint8Array(16384), new Uint8Array(4096)), /outside 1\.\.16383/);
  });
});
