/**
 * XBRLE decoder (the format of XBRLE (2011), the patch livemig started from): the delta is
 * (count, byte) pairs, count 1..255, that expand to exactly one page of XOR values; the page
 * becomes old XOR expansion.
 * The whole delta is checked before the page is touched.
 */
import { DeltaError } from '../errors.js';

export function xbrleDecode(delta: Uint8Array, page: Uint8Array): void {
  xbrleCheck(delta, page.length);
  let p = 0;
  for (let i = 0; i < delta.length; i += 2) {
    const count = delta[i]!;
    const v = delta[i + 1]!;
    if (v !== 0) for (let k = 0; k < count; k++) page[p + k] ^= v;
    p += count;
  }
}

export function xbrleCheck(delta: Uint8Array, pageBytes: number): void {
  if (delta.length === 0) return; // nothing changed
  if ((delta.length & 1) !== 0) throw new DeltaError(`odd delta length ${delta.length}: the last (count, byte) pair has no byte`, delta.length - 1);
  let p = 0;
  for (let i = 0; i < delta.length; i += 2) {
    const count = delta[i]!;
    if (count === 0) throw new DeltaError('run count of 0', i);
    p += count;
    if (p > pageBytes) throw new DeltaError(`runs expand past the ${pageBytes}-byte page (to ${p} bytes)`, i);
  }
  if (p !== pageBytes) throw new DeltaError(`runs expand to ${p} bytes, not the ${pageBytes}-byte page`, delta.length);
}
