/** Page-pair generators shared by codec and cache tests. */
import fc from 'fast-check';

export const PAGE = 4096;

/** xorshift32: small, deterministic, good enough to fill test pages. */
export function prng(seed: number): () => number {
  let s = seed | 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

export function randomPage(seed: number, size = PAGE): Uint8Array {
  const next = prng(seed);
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = next() & 0xff;
  return p;
}

export interface PagePairSpec {
  base: 'zero' | 'random' | 'ones';
  seed: number;
  edits: { off: number; len: number; mode: 'random' | 'fill' | 'alternate' | 'xor1' }[];
}

/** Builds (old, cur) from a spec: cur = old with the edits applied. */
export function buildPair(spec: PagePairSpec, size = PAGE): [Uint8Array, Uint8Array] {
  const old = spec.base === 'zero' ? new Uint8Array(size) : spec.base === 'ones' ? new Uint8Array(size).fill(0xff) : randomPage(spec.seed, size);
  const cur = old.slice();
  const next = prng(spec.seed ^ 0x5bd1e995);
  for (const e of spec.edits) {
    const end = Math.min(size, e.off + e.len);
    for (let i = e.off; i < end; i++) {
      if (e.mode === 'random') cur[i] = next() & 0xff;
      else if (e.mode === 'fill') cur[i] = 0xa5;
      else if (e.mode === 'xor1') cur[i] = old[i]! ^ 1;
      else if ((i & 1) === 0) cur[i] = old[i]! ^ 0x80;
    }
  }
  return [old, cur];
}

/**
 * A pair of pages of `blocks` × 64 bytes (the sizes the SIMD kernel takes): the spec's edits
 * wrapped into the page, plus one changed byte on either side of 64-byte block edges, one per
 * entry of `edges` (bit 0: the last byte before the edge, else the first after it), where the
 * kernel's scan moves between its 128-byte and 64-byte loops.
 */
export function blockSizedPair(spec: PagePairSpec, blocks: number, edges: readonly number[]): { old: Uint8Array; cur: Uint8Array; size: number } {
  const size = blocks * 64;
  const edits = spec.edits.map((e) => ({ ...e, off: e.off % size }));
  for (const b of edges) {
    const at = (b >> 1) * 64 - (b & 1);
    edits.push({ off: ((at % size) + size) % size, len: 1, mode: 'xor1' });
  }
  const [old, cur] = buildPair({ ...spec, edits }, size);
  return { old, cur, size };
}

export const pagePairSpec: fc.Arbitrary<PagePairSpec> = fc.record({
  base: fc.constantFrom('zero' as const, 'random' as const, 'ones' as const),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
  edits: fc.array(
    fc.record({
      off: fc.oneof(fc.nat(PAGE - 1), fc.constantFrom(0, 1, 3, 4, 15, 16, 63, 64, 127, 128, 4094, 4095)),
      len: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: PAGE })),
      mode: fc.constantFrom('random' as const, 'fill' as const, 'alternate' as const, 'xor1' as const),
    }),
    { maxLength: 40 },
  ),
});

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

/** Sizes a codec call is tried at: a page, whole 64-byte vectors, anything up to 16 KiB. */
export const codecSizes: fc.Arbitrary<number> = fc.oneof(fc.constant(PAGE), fc.integer({ min: 1, max: 255 }).map((b) => b * 64), fc.integer({ min: 1, max: 16383 }));

/**
 * `bytes` placed in `buf` (of `lead` + bytes + a trail) at `lead`, the rest filled with `fill`:
 * the view of them, so that a test sees whether a call touched anything around its operand.
 */
export function embedIn(buf: Uint8Array, bytes: Uint8Array, lead: number, fill: number): { buf: Uint8Array; view: Uint8Array } {
  buf.fill(fill);
  buf.set(bytes, lead);
  return { buf, view: buf.subarray(lead, lead + bytes.length) };
}
