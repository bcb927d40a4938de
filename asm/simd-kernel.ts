// livemig's WebAssembly SIMD kernel (AssemblyScript). It works on pointers into the
// memory it imports (the codec arena) and must give the same bytes as src/codec/ts-kernel.ts:
// a density scan that gives up early on pages whose encoding must overflow, then QEMU's
// exact emission loop. Page lengths must be multiples of 64 (the caller checks).

// Density scan results, read by the emission loops: the first and last changed byte, and per
// 64-byte block of the page a mask with bit k set when byte k changed (pages < 16384 bytes,
// so at most 256 blocks; the XBZRLE emitter walks these masks instead of re-reading pages).
const MASKS: usize = memory.data(256 * 8, 16);
let scanFirst: i32 = 0;
let scanLast: i32 = 0;

// mode 0 (XBZRLE): size >= changed + 2 * runs; mode 1 (XBRLE): size >= 4 * runs - 2.
// Returns -1 (must overflow), 0 (unchanged) or 1.
function scan(o: usize, c: usize, slen: i32, budget: i32, mode: i32): i32 {
  let changed: i64 = 0;
  let runs: i64 = 0;
  let carry: u64 = 0;
  let first: i32 = -1;
  let last: i32 = -1;
  const zero = i8x16.splat(0);
  let off: i32 = 0;
  while (off < slen) {
    // Skip unchanged 128-byte blocks, in a loop with little state. A page's scan must begin
    // here: with a 64-byte block tested before this loop, unchanged pages read from DRAM ran
    // 15-35 % slower on this machine (AMD EPYC, Node 20: 13-14 against 15-20 GB/s; the loop's
    // machine code was the same).
    while (off + 128 <= slen) {
      const q = <usize>off;
      const x = v128.or(
        v128.or(
          v128.or(v128.xor(v128.load(o + q), v128.load(c + q)), v128.xor(v128.load(o + q, 16), v128.load(c + q, 16))),
          v128.or(v128.xor(v128.load(o + q, 32), v128.load(c + q, 32)), v128.xor(v128.load(o + q, 48), v128.load(c + q, 48))),
        ),
        v128.or(
          v128.or(v128.xor(v128.load(o + q, 64), v128.load(c + q, 64)), v128.xor(v128.load(o + q, 80), v128.load(c + q, 80))),
          v128.or(v128.xor(v128.load(o + q, 96), v128.load(c + q, 96)), v128.xor(v128.load(o + q, 112), v128.load(c + q, 112))),
        ),
      );
      if (v128.any_true(x)) break;
      v128.store(MASKS + (q >> 3), i8x16.splat(0));
      carry = 0;
      off += 128;
    }
    // A changed byte in the next 128 bytes (or fewer than 128 bytes left): 64-byte blocks one
    // at a time, with masks and counts, until an unchanged one (then back to the loop above;
    // dense pages stay here, without testing each 128 bytes twice).
    while (off < slen) {
      const p = <usize>off;
      const x0 = v128.xor(v128.load(o + p), v128.load(c + p));
      const x1 = v128.xor(v128.load(o + p, 16), v128.load(c + p, 16));
      const x2 = v128.xor(v128.load(o + p, 32), v128.load(c + p, 32));
      const x3 = v128.xor(v128.load(o + p, 48), v128.load(c + p, 48));
      off += 64;
      if (!v128.any_true(v128.or(v128.or(x0, x1), v128.or(x2, x3)))) {
        store<u64>(MASKS + (p >> 3), 0);
        carry = 0;
        break;
      }
      const m: u64 =
        <u64>i8x16.bitmask(i8x16.ne(x0, zero)) |
        (<u64>i8x16.bitmask(i8x16.ne(x1, zero)) << 16) |
        (<u64>i8x16.bitmask(i8x16.ne(x2, zero)) << 32) |
        (<u64>i8x16.bitmask(i8x16.ne(x3, zero)) << 48);
      store<u64>(MASKS + (p >> 3), m);
      changed += popcnt<u64>(m);
      runs += popcnt<u64>(m & ~((m << 1) | carry));
      carry = m >> 63;
      if (first < 0) first = off - 64 + <i32>ctz<u64>(m);
      last = off - 1 - <i32>clz<u64>(m);
      const bound: i64 = mode == 0 ? changed + 2 * runs : 4 * runs - 2;
      if (bound > <i64>budget) return -1;
    }
  }
  if (first < 0) return 0;
  scanFirst = first;
  scanLast = last;
  return 1;
}

// First index in [i, end) where the pages differ, else end (for XBRLE). Unaligned 16-byte
// loads; a load may read past `end` (never past slen) and the result is clamped to end.
function nextDiff(o: usize, c: usize, i: i32, end: i32, slen: i32): i32 {
  while (i + 16 <= slen) {
    const m = i8x16.bitmask(i8x16.ne(v128.load(o + <usize>i), v128.load(c + <usize>i)));
    if (m != 0) {
      const j = i + <i32>ctz<i32>(m);
      return j < end ? j : end;
    }
    i += 16;
    if (i >= end) return end;
  }
  while (i < end) {
    if (load<u8>(o + <usize>i) != load<u8>(c + <usize>i)) return i;
    i++;
  }
  return end;
}

// First index in [i, end) whose bit in MASKS is set (a changed byte), else end.
function nextSet(i: i32, end: i32): i32 {
  const nblk = (end + 63) >> 6;
  let b = i >> 6;
  if (b >= nblk) return end;
  let m = load<u64>(MASKS + (<usize>b << 3)) & (<u64>-1 << <u64>(i & 63));
  while (m == 0) {
    if (++b >= nblk) return end;
    m = load<u64>(MASKS + (<usize>b << 3));
  }
  return (b << 6) + <i32>ctz<u64>(m);
}

// First index >= j whose bit in MASKS is clear (an unchanged byte), else slen.
function nextClear(j: i32, slen: i32): i32 {
  const nblk = slen >> 6;
  let b = j >> 6;
  if (b >= nblk) return slen;
  let m = ~load<u64>(MASKS + (<usize>b << 3)) & (<u64>-1 << <u64>(j & 63));
  while (m == 0) {
    if (++b >= nblk) return slen;
    m = ~load<u64>(MASKS + (<usize>b << 3));
  }
  return (b << 6) + <i32>ctz<u64>(m);
}

function writeUleb(out: usize, d: i32, v: i32): i32 {
  if (v < 0x80) {
    store<u8>(out + <usize>d, <u8>v);
    return d + 1;
  }
  store<u8>(out + <usize>d, <u8>((v & 0x7f) | 0x80));
  store<u8>(out + <usize>d + 1, <u8>(v >> 7));
  return d + 2;
}

export function xbzrleEncode(o: usize, c: usize, slen: i32, out: usize, dlen: i32): i32 {
  if (dlen < 2) return -1; // QEMU tests for room before it looks at the page
  const s = scan(o, c, slen, dlen, 0);
  if (s != 1) return s;
  const end = scanLast + 1;
  let d: i32 = 0;
  let i: i32 = 0;
  while (i < slen) {
    if (d + 2 > dlen) return -1;
    const j = i == 0 ? scanFirst : i >= end ? slen : nextSet(i, end);
    if (j >= end) return d;
    d = writeUleb(out, d, j - i);
    if (d + 2 > dlen) return -1;
    const k = nextClear(j, slen);
    const n = k - j;
    d = writeUleb(out, d, n);
    if (d + n > dlen) return -1;
    copyRun(out + <usize>d, c + <usize>j, n, dlen - d, slen - j);
    d += n;
    i = k;
  }
  return d;
}

// Copies n changed bytes. memory.copy is a call out of the wasm code in V8, too slow for the
// 1-16 byte runs of sparse pages: short runs move as one 16-byte vector when both sides have
// 16 bytes of room (dstRoom, srcRoom), else a byte at a time.
@inline
function copyRun(dst: usize, src: usize, n: i32, dstRoom: i32, srcRoom: i32): void {
  if (n <= 16) {
    if (dstRoom >= 16 && srcRoom >= 16) {
      v128.store(dst, v128.load(src));
    } else {
      for (let k: i32 = 0; k < n; k++) store<u8>(dst + <usize>k, load<u8>(src + <usize>k));
    }
  } else {
    memory.copy(dst, src, <usize>n);
  }
}

export function xbrleEncode(o: usize, c: usize, slen: i32, out: usize, budget: i32): i32 {
  const s = scan(o, c, slen, budget, 1);
  if (s != 1) return s;
  const end = scanLast + 1;
  let d: i32 = 0;
  let i: i32 = 0;
  while (i < slen) {
    const v = load<u8>(o + <usize>i) ^ load<u8>(c + <usize>i);
    let j: i32;
    if (v == 0) {
      j = i >= end ? slen : nextDiff(o, c, i, end, slen);
      if (j >= end) j = slen;
    } else {
      j = i + 1;
      while (j < slen && (load<u8>(o + <usize>j) ^ load<u8>(c + <usize>j)) == v) j++;
    }
    let run = j - i;
    while (run > 0) {
      if (d + 2 > budget) return -1;
      const count = run > 255 ? 255 : run;
      store<u8>(out + <usize>d, <u8>count);
      store<u8>(out + <usize>d + 1, v);
      d += 2;
      run -= count;
    }
    i = j;
  }
  return d;
}

// the fill test lives in fill.ts, which the in-place fill scanner (fill-scan.ts) shares
export { isFilled } from './fill';
