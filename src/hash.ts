/**
 * Hashing large buffers, and the RAM digests a migration is verified with. Node's
 * `Hash.update` refuses inputs of 2 GiB or more ("data is too long"), and guest RAM blocks are
 * often that big: feed them in pieces.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createXXHash128 } from 'hash-wasm';

/** Bytes per `update` call: well under the 2^31 - 1 limit, large enough to cost nothing. */
const PIECE_BYTES = 256 * 1024 * 1024;

/** `hash.update(bytes)` for a buffer of any size, `pieceBytes` at a time. */
export function updateHash(hash: Hash, bytes: Uint8Array, pieceBytes = PIECE_BYTES): Hash {
  for (let at = 0; at < bytes.length; at += pieceBytes) hash.update(bytes.subarray(at, Math.min(bytes.length, at + pieceBytes)));
  return hash;
}

/**
 * How source and destination prove they hold the same RAM: XXH3-128 (the default; ~4 GB/s
 * here in WebAssembly against ~1.5 GB/s for SHA-256, and the check runs inside the downtime)
 * or SHA-256. Both catch a wrong page with overwhelming probability; neither is a defence
 * against a peer that forges RAM on purpose (TLS authenticates the peer).
 */
export type RamDigestAlgorithm = 'xxh3-128' | 'sha256';
export const RAM_DIGEST_ALGORITHMS: readonly RamDigestAlgorithm[] = ['xxh3-128', 'sha256'];

/** Hashes a list of byte ranges (RAM blocks in order) into one hex digest, synchronously once loaded. */
export interface RamDigester {
  readonly algorithm: RamDigestAlgorithm;
  digest(blocks: readonly Uint8Array[]): string;
}

export function isRamDigestAlgorithm(v: unknown): v is RamDigestAlgorithm {
  return v === 'xxh3-128' || v === 'sha256';
}

const sha256Digester: RamDigester = {
  algorithm: 'sha256',
  digest(blocks) {
    const h = createHash('sha256');
    for (const b of blocks) updateHash(h, b);
    return h.digest('hex');
  },
};

/** Loads a digester (XXH3-128 instantiates a small WebAssembly module once per call). */
export async function createRamDigester(algorithm: RamDigestAlgorithm): Promise<RamDigester> {
  if (algorithm === 'sha256') return sha256Digester;
  const h = await createXXHash128();
  return {
    algorithm,
    digest(blocks) {
      h.init();
      for (const b of blocks) for (let at = 0; at < b.length; at += PIECE_BYTES) h.update(b.subarray(at, Math.min(b.length, at + PIECE_BYTES)));
      return h.digest('hex');
    },
  };
}
