/**
 * XBRLE decoder (the format of XBRLE (2011), the patch livemig started from): the delta is
 * (count, byte) pairs, count 1..255, that expand to exactly one page of XOR values; the page
 * becomes old XOR expansion.
 * The whole delta is checked before the page is touched.
 */
import { DeltaError, InvalidArgumentError } from '../errors.js';

export function xbrleDecode(delta: Uint8Array, page: Uint8Array): void {
  xbrleDecodeAt(delta, 0, delta.length, page, 0, page.length);
}

/**
 * `xbrleDecode` on ranges of larger buffers, without a view per call: the `slen` delta bytes
 * at `delta[start]` patch the `dlen`-byte page at `mem[at]` (a destination decodes from its
 * receive buffer straight into guest RAM). Error offsets are relative to `start`; on an error
 * nothing in `mem` changed.
 * @throws InvalidArgumentError when a range does not lie inside its buffer.
 */
export function xbrleDecodeAt(delta: Uint8Array, start: number, slen: number, mem: Uint8Array, at: number, dlen: number): void {
  if (start < 0 || slen < 0 || start + slen > delta.length || at < 0 || dlen < 0 || at + dlen > mem.length) {
    throw new InvalidArgumentError(`xbrleDecodeAt: delta range ${start}+${slen} of a ${delta.length}-byte buffer or page range ${at}+${dlen} of a ${mem.length}-byte buffer is out of bounds`);
  }
  xbrleCheckAt(delta, start, slen, dlen);
  const end = start + slen;
  let p = at;
  for (let i = start; i < end; i += 2) {
    const count = delta[i]!;
    const v = delta[i + 1]!;
    if (v !== 0) for (let k = 0; k < count; k++) mem[p + k] ^= v;
    p += count;
  }
}

export function xbrleCheck(delta: Uint8Array, pageBytes: number): void {
  xbrleCheckAt(delta, 0, delta.length, pageBytes);
}

function xbrleCheckAt(delta: Uint8Array, start: number, slen: number, pageBytes: number): void {
  if (slen === 0) return; // nothing changed
  if ((slen & 1) !== 0) throw new DeltaError(`odd delta length ${slen}: the last (count, byte) pair has no byte`, slen - 1);
  const end = start + slen;
  let p = 0;
  for (let i = start; i < end; i += 2) {
    const count = delta[i]!;
    if (count === 0) throw new DeltaError('run count of 0', i - start);
    p += count;
    if (p > pageBytes) throw new DeltaError(`runs expand past the ${pageBytes}-byte page (to ${p} bytes)`, i - start);
  }
  if (p !== pageBytes) throw new DeltaError(`runs expand to ${p} bytes, not the ${pageBytes}-byte page`, slen);
}
