/**
 * Hashes a guest's RAM on worker threads, so that a source can send its last pages while the
 * digest of its paused, and so frozen, RAM is computed. page128 (the default) is split over
 * several workers, each hashing its share of the chunks in place (SIMD, on the blocks'
 * WebAssembly.Memory) into one shared chunk table; xxh3-128 and sha256 hash all RAM in order on
 * one worker. Start it ahead of need: a worker takes tens of milliseconds to start.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { LivemigError } from '../errors.js';
import type { RamDigestAlgorithm } from '../hash.js';
import type { GuestMemory } from './guest-memory.js';
import { chunkCountOf } from './page-digests.js';

/** What a worker posts once it waits for work. */
export const RAM_HASHER_READY = 'ready';
/** What a worker posts when its share of a page128 chunk table is written. */
export const RAM_HASHER_CHUNKS_DONE = 'chunks-done';

/** What a worker gets: each block's shared buffer, place in it, and WebAssembly.Memory if any. */
export interface RamHasherInit {
  blocks: { sab: SharedArrayBuffer; byteOffset: number; sizeBytes: number; wasmMemory?: WebAssembly.Memory }[];
  /** The shared chunk table page128 jobs write into (16 bytes a chunk). */
  chunks: SharedArrayBuffer;
}

/** A job: an algorithm name (the whole-RAM digest, posted back as hex), or a page128 chunk range. */
export type RamHasherJob = string | { from: number; to: number };

/** Most workers a page128 digest is split over. */
const MAX_WORKERS = 4;

interface Pending {
  resolve: (v: string) => void;
  reject: (e: Error) => void;
}

class HashWorker {
  readonly worker: Worker;
  pending: Pending | undefined;
  failure: Error | undefined;
  readonly ready: Promise<void>;

  constructor(init: RamHasherInit, closed: () => boolean) {
    this.worker = new Worker(new URL('./ram-hasher-worker.js', import.meta.url), { workerData: init, name: 'livemig RAM digest' });
    this.worker.unref();
    let started!: () => void;
    this.ready = new Promise<void>((resolve) => (started = resolve));
    this.worker.on('message', (v: unknown) => {
      if (v === RAM_HASHER_READY) {
        started();
        return;
      }
      const p = this.pending;
      this.pending = undefined;
      if (typeof v === 'string') p?.resolve(v);
      else p?.reject(new LivemigError('GUEST_STATE', `RAM digest worker failed: ${JSON.stringify(v)}`));
    });
    const fail = (e: Error): void => {
      started();
      this.failure ??= e;
      this.pending?.reject(e);
      this.pending = undefined;
    };
    this.worker.on('error', (e) => fail(new LivemigError('GUEST_STATE', `RAM digest worker failed: ${e.message}`, { cause: e })));
    this.worker.on('exit', (code) => {
      if (!closed()) fail(new LivemigError('GUEST_STATE', `RAM digest worker exited with code ${code}`));
    });
  }

  run(job: RamHasherJob): Promise<string> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.pending !== undefined) return Promise.reject(new LivemigError('GUEST_STATE', 'a RAM digest is already running'));
    return new Promise<string>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(job);
    });
  }
}

export class RamHasher {
  private readonly workers: HashWorker[];
  private closed = false;
  private readonly table: Int32Array;
  /** Chunks in the RAM (the page128 table's length in digests). */
  readonly chunkCount: number;
  /**
   * Resolves once every worker has started and waits for work (or has failed): their start-up
   * (a thread, an isolate, its modules) takes tens of milliseconds of CPU, which a migration
   * started at once shares with its first pass.
   */
  readonly ready: Promise<void>;

  private constructor(memory: GuestMemory, workers: number) {
    this.chunkCount = chunkCountOf(memory);
    const chunks = new SharedArrayBuffer(this.chunkCount * 16);
    this.table = new Int32Array(chunks);
    const init: RamHasherInit = {
      blocks: memory.blocks.map((b) => ({
        sab: b.bytes.buffer as SharedArrayBuffer,
        byteOffset: b.bytes.byteOffset,
        sizeBytes: b.sizeBytes,
        ...(b.wasmMemory !== undefined ? { wasmMemory: b.wasmMemory } : {}),
      })),
      chunks,
    };
    const n = Math.max(1, Math.min(workers, MAX_WORKERS, this.chunkCount));
    this.workers = Array.from({ length: n }, () => new HashWorker(init, () => this.closed));
    this.ready = Promise.all(this.workers.map((w) => w.ready)).then(() => undefined);
  }

  /** True when a worker can read `memory` (every block lives in a SharedArrayBuffer). */
  static canHash(memory: GuestMemory): boolean {
    return memory.blocks.every((b) => b.shared);
  }

  /**
   * Starts the workers for `memory` (its blocks must be shared, as a Guest's are: see
   * {@link RamHasher.canHash}): by default one per core, at most 4.
   */
  static start(memory: GuestMemory, workers = availableParallelism()): RamHasher {
    return new RamHasher(memory, workers);
  }

  /** Workers a page128 digest is split over. */
  get workerCount(): number {
    return this.workers.length;
  }

  /**
   * The hex digest (SHA-256 unless told otherwise; not page128, see {@link chunks}) of the RAM
   * as it is while hashing, on one worker: pause the guest first. One at a time.
   * @throws LivemigError GUEST_STATE if the worker failed, or a digest is already running.
   */
  digest(algorithm: Exclude<RamDigestAlgorithm, 'page128'> = 'sha256'): Promise<string> {
    if (this.closed) return Promise.reject(new LivemigError('GUEST_STATE', 'RAM digest worker is closed'));
    return this.workers[0]!.run(algorithm);
  }

  /**
   * page128's chunk table (4 lanes per chunk) of the RAM as it is while hashing, each worker
   * hashing a share of the chunks: pause the guest first. The table is reused by the next call.
   * `count` hashes only the first `count` chunks (the rest of the table is left as it was).
   * @throws LivemigError GUEST_STATE if a worker failed, or a digest is already running.
   */
  async chunks(count = this.chunkCount): Promise<Int32Array> {
    if (this.closed) throw new LivemigError('GUEST_STATE', 'RAM digest worker is closed');
    const n = this.workers.length;
    const total = Math.max(0, Math.min(count, this.chunkCount));
    await Promise.all(this.workers.map((w, i) => w.run({ from: Math.floor((total * i) / n), to: Math.floor((total * (i + 1)) / n) })));
    return this.table;
  }

  /** Ends the workers; a digest still running is rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) {
      w.pending?.reject(new LivemigError('GUEST_STATE', 'RAM digest worker closed'));
      w.pending = undefined;
    }
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
