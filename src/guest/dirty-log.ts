import { InvalidArgumentError } from '../errors.js';

/**
 * Where the migration learns which pages the guest wrote (QEMU's dirty log).
 *
 * Bitmaps are `Uint32Array`s over global pages: bit `p & 31` of word `p >>> 5` is page `p`;
 * {@link dirtyBitmapWords} gives the length. Both implementations start with **every page
 * dirty** (nothing has been sent yet), as QEMU's setup sets the whole migration bitmap.
 */
export interface DirtyLog {
  /** `explicit`: writers mark pages; `scan`: pages are compared with what was sent. */
  readonly kind: 'explicit' | 'scan';
  /**
   * Moves the pages dirtied since the last sync into `into` (OR-ed in) and clears them in the
   * log. Returns how many bits of `into` went from 0 to 1 (QEMU's `new_dirty_pages`: pages
   * already pending are not counted again).
   * @throws InvalidArgumentError if `into` is shorter than {@link dirtyBitmapWords}.
   */
  sync(into: Uint32Array): number;
  /**
   * Records what was sent for a page (`bytes`: the 4 KiB snapshot that went on the wire). The
   * scan log compares later contents against it; the explicit log ignores it.
   */
  noteSent(globalPage: number, bytes: Uint8Array): void;
  /**
   * Optional: {@link DirtyLog.sync} over global pages `firstPage .. endPage - 1` only, so that a
   * long scan can be cut into slices (a guest on the same thread runs between them). Pages
   * outside the range are left as they are.
   */
  syncRange?(into: Uint32Array, firstPage: number, endPage: number): number;
  /** False when `noteSent` ignores its bytes (the sender may then skip making a snapshot to give it). */
  readonly usesSentBytes: boolean;
  /** Forgets everything sent: every page counts as dirty at the next sync (a new migration). */
  reset(): void;
}

/** Words in a dirty bitmap for `pageCount` pages. */
export function dirtyBitmapWords(pageCount: number): number {
  return (pageCount + 31) >>> 5;
}

/** Set bits in a 32-bit word (no allocation; used per bitmap word). */
export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/**
 * Mask of the valid bits in the last bitmap word (pages past `pageCount` never count).
 */
export function lastWordMask(pageCount: number): number {
  const r = pageCount & 31;
  return r === 0 ? 0xffffffff : (1 << r) - 1;
}

/** @throws InvalidArgumentError when a caller's bitmap cannot hold every page. */
export function checkBitmap(into: Uint32Array, pageCount: number): void {
  const need = dirtyBitmapWords(pageCount);
  if (!(into instanceof Uint32Array) || into.length < need) {
    throw new InvalidArgumentError(`dirty bitmap must be a Uint32Array of at least ${need} words for ${pageCount} pages`);
  }
}
