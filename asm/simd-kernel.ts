// livemig's WebAssembly SIMD kernel (AssemblyScript). It works on pointers into the
// memory it imports (the codec arena) and must give the same bytes as src/codec/ts-kernel.ts:
// a density scan that gives up early on pages whose encoding must overflow, then QEMU's
// exact emission loop. Page lengths must be multiples of 64 (the caller checks).

// Density scan results, read by the emission loops.
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
  for (let off: i32 = 0; off < slen; off += 64) {
    const p = <usize>off;
    const x0 = v128.xor(v128.load(o + p), v128.load(c + p));
    const x1 = v128.xor(v128.load(o + p + 16), v128.load(c + p + 16));
    const x2 = v128.xor(v128.load(o + p + 32), v128.load(c + p + 32));
    const x3 = v128.xor(v128.load(o + p + 48), v128.load(c + p + 48));
    if (!v128.any_true(v128.or(v128.or(x0, x1), v128.or(x2, x3)))) {
      carry = 0;
      continue;
    }
    const m: u64 =
      <u64>i8x16.bitmask(i8x16.ne(x0, zero)) |
      (<u64>i8x16.bitmask(i8x16.ne(x1, zero)) << 16) |
      (<u64>i8x16.bitmask(i8x16.ne(x2, zero)) << 32) |
      (<u64>i8x16.bitmask(i8x16.ne(x3, zero)) << 48);
    changed += popcnt<u64>(m);
    runs += popcnt<u64>(m & ~((m << 1) | carry));
    carry = m >> 63;
    if (first < 0) first = off + <i32>ctz<u64>(m);
    last = off + 63 - <i32>clz<u64>(m);
    const bound: i64 = mode == 0 ? changed + 2 * runs : 4 * runs - 2;
    if (bound > <i64>budget) return -1;
  }
  if (first < 0) return 0;
  scanFirst = first;
  scanLast = last;
  return 1;
}

// First index in [i, end) where the pages differ, else end.
function nextDiff(o: usize, c: usize, i: i32, end: i32): i32 {
  while (i < end && (i & 15) != 0) {
    if (load<u8>(o + <usize>i) != load<u8>(c + <usize>i)) return i;
    i++;
  }
  while (i + 16 <= end) {
    const x = v128.xor(v128.load(o + <usize>i), v128.load(c + <usize>i));
    if (v128.any_true(x)) return i + <i32>ctz<i32>(i8x16.bitmask(i8x16.ne(x, i8x16.splat(0))));
    i += 16;
  }
  while (i < end) {
    if (load<u8>(o + <usize>i) != load<u8>(c + <usize>i)) return i;
    i++;
  }
  return end;
}

// First index in [j, end) where the pages are equal, else end.
function nextEqual(o: usize, c: usize, j: i32, end: i32): i32 {
  while (j < end && (j & 15) != 0) {
    if (load<u8>(o + <usize>j) == load<u8>(c + <usize>j)) return j;
    j++;
  }
  while (j + 16 <= end) {
    const eq = i8x16.bitmask(i8x16.eq(v128.load(o + <usize>j), v128.load(c + <usize>j)));
    if (eq != 0) return j + <i32>ctz<i32>(eq);
    j += 16;
  }
  while (j < end) {
    if (load<u8>(o + <usize>j) == load<u8>(c + <usize>j)) return j;
    j++;
  }
  return end;
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
    const j = i == 0 ? scanFirst : i >= end ? slen : nextDiff(o, c, i, end);
    if (j >= end) return d;
    d = writeUleb(out, d, j - i);
    if (d + 2 > dlen) return -1;
    const k = nextEqual(o, c, j, end);
    const n = k - j;
    d = writeUleb(out, d, n);
    if (d + n > dlen) return -1;
    memory.copy(out + <usize>d, c + <usize>j, <usize>n);
    d += n;
    i = k;
  }
  return d;
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
      j = i >= end ? slen : nextDiff(o, c, i, end);
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

// 1 when every byte of [p, p+len) equals `b`.
export function isFilled(p: usize, len: i32, b: i32): i32 {
  const fill = i8x16.splat(<i8>b);
  for (let off: i32 = 0; off < len; off += 64) {
    const q = p + <usize>off;
    const x = v128.or(
      v128.or(v128.xor(v128.load(q), fill), v128.xor(v128.load(q + 16), fill)),
      v128.or(v128.xor(v128.load(q + 32), fill), v128.xor(v128.load(q + 48), fill)),
    );
    if (v128.any_true(x)) return 0;
  }
  return 1;
}
