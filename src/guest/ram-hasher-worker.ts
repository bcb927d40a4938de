/** The RAM digest worker (see ram-hasher.ts): on each 'digest' message, posts the hex SHA-256 of every block. */
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { updateHash } from '../hash.js';
import { RAM_HASHER_READY, type RamHasherInit } from './ram-hasher.js';

const init = workerData as RamHasherInit;
const blocks = init.blocks.map((b) => new Uint8Array(b.sab, b.byteOffset, b.sizeBytes));
parentPort!.on('message', () => {
  const h = createHash('sha256');
  for (const b of blocks) updateHash(h, b);
  parentPort!.postMessage(h.digest('hex'));
});
parentPort!.postMessage(RAM_HASHER_READY);
