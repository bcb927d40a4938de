/**
 * Hashing large buffers. Node's `Hash.update` refuses inputs of 2 GiB or more ("data is too
 * long"), and guest RAM blocks are often that big: feed them in pieces.
 */
import type { Hash } from 'node:crypto';

/** Bytes per `update` call: well under the 2^31 - 1 limit, large enough to cost nothing. */
const PIECE_BYTES = 256 * 1024 * 1024;

/** `hash.update(bytes)` for a buffer of any size, `pieceBytes` at a time. */
export function updateHash(hash: Hash, bytes: Uint8Array, pieceBytes = PIECE_BYTES): Hash {
  for (let at = 0; at < bytes.length; at += pieceBytes) hash.update(bytes.subarray(at, Math.min(bytes.length, at + pieceBytes)));
  return hash;
}
