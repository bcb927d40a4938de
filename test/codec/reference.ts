/**
 * Byte-at-a-time models of the codecs, written straight from the format descriptions
 * (QEMU's xbzrle_encode_buffer pseudocode, the seed's XOR run-length pairs). Slow and
 * obvious: the kernels must agree with them on every input.
 */
function uleb(out: number[], v: number): void {
  if (v < 0x80) out.push(v);
  else out.push((v & 0x7f) | 0x80, v >>> 7);
}

export function referenceXbzrleEncode(old: Uint8Array, cur: Uint8Array, dlen: number): number[] | -1 | 0 {
  const slen = cur.length;
  const out: number[] = [];
  let i = 0;
  while (i < slen) {
    if (out.length + 2 > dlen) return -1;
    let z = 0;
    while (i < slen && old[i] === cur[i]) {
      i++;
      z++;
    }
    if (z === slen) return 0;
    if (i === slen) return out;
    uleb(out, z);
    if (out.length + 2 > dlen) return -1;
    const s = i;
    while (i < slen && old[i] !== cur[i]) i++;
    const n = i - s;
    uleb(out, n);
    if (out.length + n > dlen) return -1;
    for (let k = s; k < i; k++) out.push(cur[k]!);
  }
  return out;
}

export function referenceXbrleEncode(old: Uint8Array, cur: Uint8Array, budget: number): number[] | -1 | 0 {
  let changed = false;
  for (let i = 0; i < cur.length; i++) if (old[i] !== cur[i]) changed = true;
  if (!changed) return 0;
  const out: number[] = [];
  let i = 0;
  while (i < cur.length) {
    const v = old[i]! ^ cur[i]!;
    let n = 1;
    while (i + n < cur.length && n < 255 && (old[i + n]! ^ cur[i + n]!) === v) n++;
    out.push(n, v);
    if (out.length > budget) return -1;
    i += n;
  }
  return out;
}
