// livemig's page128 hash (AssemblyScript, WebAssembly SIMD): instantiated on a guest RAM
// block's own WebAssembly.Memory, it hashes pages where they lie. Like the fill scanner it must
// never write guest RAM (no static data, no heap): results leave through the globals h0..h3, or
// (hashPageTo) into 16 bytes its caller names, outside the RAM (in the memory's I/O area).
// src/codec/page-hash128.ts has the same function in TypeScript (the reference) and the
// definition; both give identical values.

// @ts-ignore: decorator
@inline const P1: u32 = 0x9e3779b1;
// @ts-ignore: decorator
@inline const P2: u32 = 0x85ebca77;
// @ts-ignore: decorator
@inline const P3: u32 = 0xc2b2ae3d;
// @ts-ignore: decorator
@inline const P4: u32 = 0x27d4eb2f;

export let h0: u32 = 0;
export let h1: u32 = 0;
export let h2: u32 = 0;
export let h3: u32 = 0;

// @ts-ignore: decorator
@inline function step(acc: v128, w: v128): v128 {
  const x = v128.xor(acc, w);
  return i32x4.mul(v128.or(i32x4.shl(x, 13), i32x4.shr_u(x, 19)), i32x4.splat(P2));
}

// A bijection of 128 bits: murmur3's fmix32 in each lane, then each lane plus twice the next
// (the matrix I + 2S has an odd determinant, so it is invertible mod 2^32).
// @ts-ignore: decorator
@inline function mix(v: v128): v128 {
  let x = v128.xor(v, i32x4.shr_u(v, 15));
  x = i32x4.mul(x, i32x4.splat(P2));
  x = v128.xor(x, i32x4.shr_u(x, 13));
  x = i32x4.mul(x, i32x4.splat(P3));
  x = v128.xor(x, i32x4.shr_u(x, 16));
  return i32x4.add(x, i32x4.shl(v128.shuffle<u32>(x, x, 1, 2, 3, 0), 1));
}

// @ts-ignore: decorator
@inline function pageHash(p: usize): v128 {
  let a0 = i32x4(<i32>(P1 * 1), <i32>(P1 * 2), <i32>(P1 * 3), <i32>(P1 * 4));
  let a1 = i32x4(<i32>(P1 * 5), <i32>(P1 * 6), <i32>(P1 * 7), <i32>(P1 * 8));
  let a2 = i32x4(<i32>(P1 * 9), <i32>(P1 * 10), <i32>(P1 * 11), <i32>(P1 * 12));
  let a3 = i32x4(<i32>(P1 * 13), <i32>(P1 * 14), <i32>(P1 * 15), <i32>(P1 * 16));
  for (let q = p, end = p + 4096; q < end; q += 64) {
    a0 = step(a0, v128.load(q));
    a1 = step(a1, v128.load(q, 16));
    a2 = step(a2, v128.load(q, 32));
    a3 = step(a3, v128.load(q, 48));
  }
  let h = mix(v128.xor(a0, mix(a1)));
  h = mix(v128.xor(h, a2));
  h = mix(v128.xor(h, a3));
  return h;
}

// The hash of a zero page, computed once (no static data: a global, filled on first use).
let zeroHash: v128 = i32x4.splat(0);
let zeroHashSet = false;

function hashOfZeroPage(): v128 {
  if (!zeroHashSet) {
    let a0 = i32x4(<i32>(P1 * 1), <i32>(P1 * 2), <i32>(P1 * 3), <i32>(P1 * 4));
    let a1 = i32x4(<i32>(P1 * 5), <i32>(P1 * 6), <i32>(P1 * 7), <i32>(P1 * 8));
    let a2 = i32x4(<i32>(P1 * 9), <i32>(P1 * 10), <i32>(P1 * 11), <i32>(P1 * 12));
    let a3 = i32x4(<i32>(P1 * 13), <i32>(P1 * 14), <i32>(P1 * 15), <i32>(P1 * 16));
    const z = i32x4.splat(0);
    for (let i = 0; i < 64; i++) {
      a0 = step(a0, z);
      a1 = step(a1, z);
      a2 = step(a2, z);
      a3 = step(a3, z);
    }
    let h = mix(v128.xor(a0, mix(a1)));
    h = mix(v128.xor(h, a2));
    zeroHash = mix(v128.xor(h, a3));
    zeroHashSet = true;
  }
  return zeroHash;
}

// True when the page at `p` is all zero: read at memory speed, stops at the first non-zero 64 bytes.
// @ts-ignore: decorator
@inline function isZeroPage(p: usize): bool {
  for (let q = p, end = p + 4096; q < end; q += 64) {
    if (v128.any_true(v128.or(v128.or(v128.load(q), v128.load(q, 16)), v128.or(v128.load(q, 32), v128.load(q, 48))))) return false;
  }
  return true;
}

// A page's hash; a zero page (most of an idle guest) costs only its read.
// @ts-ignore: decorator
@inline function pageHashFast(p: usize): v128 {
  return isZeroPage(p) ? hashOfZeroPage() : pageHash(p);
}

// @ts-ignore: decorator
@inline function publish(h: v128): void {
  h0 = i32x4.extract_lane(h, 0);
  h1 = i32x4.extract_lane(h, 1);
  h2 = i32x4.extract_lane(h, 2);
  h3 = i32x4.extract_lane(h, 3);
}

/** The page128 hash of the 4096-byte page at `p`, into h0..h3. */
export function hashPage(p: usize): void {
  publish(pageHashFast(p));
}

/**
 * The page128 hash of the page at `p`, stored as 16 bytes (four little-endian u32, h0 first) at
 * `out`: one store instead of four global reads from JavaScript, per page a destination lands.
 */
export function hashPageTo(p: usize, out: usize): void {
  v128.store(out, pageHashFast(p));
}

/** The chunk digest of `pages` consecutive pages from `p` (combine of their page hashes), into h0..h3. */
export function hashChunk(p: usize, pages: i32): void {
  let c = i32x4(<i32>(P4 * 1), <i32>(P4 * 2), <i32>(P4 * 3), <i32>(P4 * 4));
  for (let i = 0; i < pages; i++) c = mix(v128.xor(c, pageHashFast(p + (<usize>i << 12))));
  publish(mix(v128.xor(c, i32x4.splat(pages))));
}
