/**
 * A RAM digest worker (see ram-hasher.ts): a message naming an algorithm gets the hex digest of
 * every block back; a chunk range `{ from, to }` gets its page128 chunk digests written into the
 * shared table, then RAM_HASHER_CHUNKS_DONE.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createRamDigester, isRamDigestAlgorithm } from '../hash.js';
import type { RamDigestAlgorithm, RamDigester } from '../hash.js';
import { chunkDigests, inPlacePageHasher } from '../codec/page-hash128.js';
import { RAM_HASHER_CHUNKS_DONE, RAM_HASHER_READY, type RamHasherInit } from './ram-hasher.js';

const init = workerData as RamHasherInit;
const blocks = init.blocks.map((b) => new Uint8Array(b.sab, b.byteOffset, b.sizeBytes));
const table = new Int32Array(init.chunks);
// hashers on the blocks' own memory (each block's view starts at its memory's byte 0)
const hashers = init.blocks.map((b) => (b.wasmMemory !== undefined && b.byteOffset === 0 ? inPlacePageHasher(b.wasmMemory) : undefined));
const digesters = new Map<RamDigestAlgorithm, Promise<RamDigester>>();
parentPort!.on('message', (job: unknown) => {
  if (typeof job === 'object' && job !== null) {
    const { from, to } = job as { from: number; to: number };
    try {
      chunkDigests(blocks, hashers, from, to, table);
      parentPort!.postMessage(RAM_HASHER_CHUNKS_DONE);
    } catch (e) {
      parentPort!.postMessage({ error: String(e) });
    }
    return;
  }
  const alg = isRamDigestAlgorithm(job) ? job : 'sha256';
  let d = digesters.get(alg);
  if (d === undefined) digesters.set(alg, (d = createRamDigester(alg)));
  d.then((digester) => parentPort!.postMessage(digester.digest(blocks)), (e: unknown) => parentPort!.postMessage({ error: String(e) }));
});
parentPort!.postMessage(RAM_HASHER_READY);
