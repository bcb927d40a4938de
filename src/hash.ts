/**
 * Hashing large buffers, and the RAM digests a migration is verified with. Node's
 * `Hash.update` refuses inputs of 2 GiB or more ("data is too long"), and guest RAM blocks are
 * often that big: feed them in pieces.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createXXHash128 } from 'hash-wasm';
import { page128Digest } from './codec/page-hash128.js';

/** Bytes per `update` call: well under the 2^31 - 1 limit, large enough to cost nothing. */
const PIECE_BYTES = 256 * 1024 * 1024;

/** `hash.update(bytes)` for a buffer of any size, `pieceBytes` at a time. */
export function updateHash(hash: Hash, bytes: Uint8Array, pieceBytes = PIECE_BYTES): Hash {
  for (let at = 0; at < bytes.length; at += pieceBytes) hash.update(bytes.subarray(at, Math.min(bytes.length, at + pieceBytes)));
  return hash;
}

/**
 * How source and destination prove they hold the same RAM: `page128` (the default: livemig's
 * 128-bit SIMD page hash, combined per 64-page chunk and over the chunks, see
 * codec/page-hash128.ts; the destination hashes pages as they land, the source hashes its RAM
 * in place on worker threads, and a mismatch is located to chunks and pages), or one hash of
 * all RAM in order: XXH3-128 (~4 GB/s here in WebAssembly) or SHA-256 (~1.5 GB/s). All catch a
 * wrong page with overwhelming probability; none is a defence against a peer that forges RAM
 * on purpose (TLS authenticates the peer).
 */
export type RamDigestAlgorithm = 'page128' | 'xxh3-128' | 'sha256';
export const RAM_DIGEST_ALGORITHMS: readonly RamDigestAlgorithm[] = ['page128', 'xxh3-128', 'sha256'];

/** Hashes a list of byte ranges (RAM blocks in order) into one hex digest, synchronously once loaded. */
export interface RamDigester {
  readonly algorithm: RamDigestAlgorithm;
  digest(blocks: readonly Uint8Array[]): string;
}

export function isRamDigestAlgorithm(v: unknown): v is RamDigestAlgorithm {
  return v === 'page128' || v === 'xxh3-128' || v === 'sha256';
}

const sha256Digester: RamDigester = {
  algorithm: 'sha256',
  digest(blocks) {
    const h = createHash('sha256');
    for (const b of blocks) updateHash(h, b);
    return h.digest('hex');
  },
};

/** Loads a digester (page128 here reads with the TypeScript reference; XXH3-128 instantiates a small WebAssembly module once per call). */
export async function createRamDigester(algorithm: RamDigestAlgorithm): Promise<RamDigester> {
  if (algorithm === 'sha256') return sha256Digester;
  if (algorithm === 'page128') return { algorithm, digest: page128Digest };
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
