// The fill test of livemig's WebAssembly SIMD kernels (AssemblyScript): shared by the codec
// kernel (simd-kernel.ts, on its arena) and the in-place scanner (fill-scan.ts, on guest RAM).
// `len` must be a multiple of 64 (the callers check).

// 1 when every byte of [p, p+len) equals `b`.
export function isFilled(p: usize, len: i32, b: i32): i32 {
  const fill = i8x16.splat(<i8>b);
  let off: i32 = 0;
  for (; off + 128 <= len; off += 128) {
    const q = p + <usize>off;
    const x = v128.or(
      v128.or(
        v128.or(v128.xor(v128.load(q), fill), v128.xor(v128.load(q, 16), fill)),
        v128.or(v128.xor(v128.load(q, 32), fill), v128.xor(v128.load(q, 48), fill)),
      ),
      v128.or(
        v128.or(v128.xor(v128.load(q, 64), fill), v128.xor(v128.load(q, 80), fill)),
        v128.or(v128.xor(v128.load(q, 96), fill), v128.xor(v128.load(q, 112), fill)),
      ),
    );
    if (v128.any_true(x)) return 0;
  }
  for (; off < len; off += 64) {
    const q = p + <usize>off;
    const x = v128.or(
      v128.or(v128.xor(v128.load(q), fill), v128.xor(v128.load(q, 16), fill)),
      v128.or(v128.xor(v128.load(q, 32), fill), v128.xor(v128.load(q, 48), fill)),
    );
    if (v128.any_true(x)) return 0;
  }
  return 1;
}
