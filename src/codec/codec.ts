/**
 * The public codec functions. They check their arguments, then run the selected kernel, on its
 * path for plain Uint8Arrays where it has one (the SIMD kernel copies pages into its memory
 * without first asking whether they already are there, a view look-up per call).
 *
 * XBZRLE (QEMU's format) and XBRLE (2011's) both return the bytes written to `out`,
 * 0 when the page is unchanged (nothing to send) and -1 when the encoding does not fit in
 * `out.length` (the page overflows and goes whole).
 */
import { InvalidArgumentError } from '../errors.js';
import { selectedKernel } from './kernel.js';
import { MAX_DELTA_PAGE_BYTES } from './page.js';
import { xbzrleDecode as decodeXbzrle } from './xbzrle-decode.js';
import { xbrleDecode as decodeXbrle } from './xbrle-decode.js';

function checkPair(fn: string, old: Uint8Array, cur: Uint8Array): void {
  if (old.length !== cur.length) {
    throw new InvalidArgumentError(`${fn}: old page is ${old.length} bytes but the current page is ${cur.length}`);
  }
  if (cur.length === 0 || cur.length > MAX_DELTA_PAGE_BYTES) {
    throw new InvalidArgumentError(`${fn}: page size ${cur.length} is outside 1..${MAX_DELTA_PAGE_BYTES} bytes`);
  }
}

/**
 * Encodes the difference from `old` to `cur` in QEMU's XBZRLE format. With
 * `out.length` equal to the page size the result is byte for byte what QEMU produces.
 * @throws InvalidArgumentError when the pages differ in length or are empty or over 16383 bytes.
 */
export function xbzrleEncode(old: Uint8Array, cur: Uint8Array, out: Uint8Array): number {
  checkPair('xbzrleEncode', old, cur);
  const k = selectedKernel();
  return k.xbzrleEncodePlain !== undefined ? k.xbzrleEncodePlain(old, cur, out) : k.xbzrleEncode(old, cur, out);
}

/**
 * Applies an XBZRLE delta to `page` in place.
 * @throws DeltaError naming the payload offset; `page` is then unchanged.
 */
export const xbzrleDecode: (delta: Uint8Array, page: Uint8Array) => void = decodeXbzrle;

/**
 * Encodes old XOR cur as XBRLE (2011)'s (count, byte) run-length pairs over the whole page;
 * `out.length` is the budget (XBRLE (2011) used a third of the page, XBRLE_BUDGET_BYTES).
 * @throws InvalidArgumentError as xbzrleEncode.
 */
export function xbrleEncode(old: Uint8Array, cur: Uint8Array, out: Uint8Array): number {
  checkPair('xbrleEncode', old, cur);
  const k = selectedKernel();
  return k.xbrleEncodePlain !== undefined ? k.xbrleEncodePlain(old, cur, out) : k.xbrleEncode(old, cur, out);
}

/**
 * Applies an XBRLE delta to `page` in place.
 * @throws DeltaError naming the payload offset; `page` is then unchanged.
 */
export function xbrleDecode(delta: Uint8Array, page: Uint8Array): void {
  decodeXbrle(delta, page);
}

/** True when every byte of the page is zero. */
export function isZeroPage(page: Uint8Array): boolean {
  return selectedKernel().isZeroPage(page);
}

/** The fill byte when every byte of the page is equal, else -1 (and -1 for an empty page). */
export function dupPageByte(page: Uint8Array): number {
  return selectedKernel().dupPageByte(page);
}
