/** The RAM digest worker (see ram-hasher.ts): on each message naming an algorithm, posts the hex digest of every block. */
import { parentPort, workerData } from 'node:worker_threads';
import { createRamDigester, isRamDigestAlgorithm } from '../hash.js';
import type { RamDigestAlgorithm, RamDigester } from '../hash.js';
import { RAM_HASHER_READY, type RamHasherInit } from './ram-hasher.js';

const init = workerData as RamHasherInit;
const blocks = init.blocks.map((b) => new Uint8Array(b.sab, b.byteOffset, b.sizeBytes));
const digesters = new Map<RamDigestAlgorithm, Promise<RamDigester>>();
parentPort!.on('message', (algorithm: unknown) => {
  const alg = isRamDigestAlgorithm(algorithm) ? algorithm : 'sha256';
  let d = digesters.get(alg);
  if (d === undefined) digesters.set(alg, (d = createRamDigester(alg)));
  d.then((digester) => parentPort!.postMessage(digester.digest(blocks)), (e: unknown) => parentPort!.postMessage({ error: String(e) }));
});
// the default algorithm's module is instantiated before the worker says it is ready
void createRamDigester('xxh3-128').then((d) => {
  digesters.set('xxh3-128', Promise.resolve(d));
  parentPort!.postMessage(RAM_HASHER_READY);
});
