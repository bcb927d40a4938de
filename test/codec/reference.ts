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

/**
 * QEMU's xbzrle_decode_buffer rules, one byte at a time, on a copy: the decoded page, or the
 * payload offset of the first thing QEMU rejects.
 */
export function referenceXbzrleDecode(delta: Uint8Array, page: Uint8Array): { page: Uint8Array } | { errorAt: number } {
  const out = page.slice();
  const readUleb = (at: number): [number, number] | undefined => {
    // at most two bytes; a third continuation byte is an error
    const b0 = delta[at]!;
    if ((b0 & 0x80) === 0) return [b0, 1];
    const b1 = delta[at + 1]!;
    if (b1 & 0x80) return undefined;
    return [(b0 & 0x7f) | (b1 << 7), 2];
  };
  let i = 0;
  let d = 0;
  while (i < delta.length) {
    if (delta.length - i < 2) return { errorAt: i };
    const z = readUleb(i);
    if (z === undefined) return { errorAt: i };
    if (i !== 0 && z[0] === 0) return { errorAt: i };
    const zAt = i;
    i += z[1];
    d += z[0];
    if (d > page.length) return { errorAt: zAt };
    if (delta.length - i < 2) return { errorAt: i };
    const n = readUleb(i);
    if (n === undefined || n[0] === 0 || d + n[0] > page.length || i + n[1] + n[0] > delta.length) return { errorAt: i };
    i += n[1];
    for (let k = 0; k < n[0]; k++) out[d++] = delta[i++]!;
  }
  return { page: out };
}

/** A reference encoder's result as text to compare: the bytes in hex, or -1 / 0. */
export function referenceText(r: number[] | -1 | 0): string | number {
  return r instanceof Array ? Buffer.from(r).toString('hex') : r;
}

/** A kernel's result as the same text: `n` bytes of `out` in hex, or -1 / 0. */
export function resultText(n: number, out: Uint8Array): string | number {
  return n > 0 ? Buffer.from(out.subarray(0, n)).toString('hex') : n;
}
