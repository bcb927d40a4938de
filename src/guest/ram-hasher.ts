/**
 * Hashes a guest's RAM (SHA-256 of every block in order, as `GuestMemory.digest()`) on a worker
 * thread, so that a source can send its last pages while the digest of its paused, and so
 * frozen, RAM is computed: at ~1.4 GB/s a 256 MiB guest's digest would otherwise add ~190 ms
 * to the downtime. Start it ahead of need: a worker takes tens of milliseconds to start.
 */
import { Worker } from 'node:worker_threads';
import { LivemigError } from '../errors.js';
import type { RamDigestAlgorithm } from '../hash.js';
import type { GuestMemory } from './guest-memory.js';

/** What the worker posts once it waits for work. */
export const RAM_HASHER_READY = 'ready';

/** What the worker gets: each block's shared buffer and place in it. */
export interface RamHasherInit {
  blocks: { sab: SharedArrayBuffer; byteOffset: number; sizeBytes: number }[];
}

export class RamHasher {
  private readonly worker: Worker;
  private pending: { resolve: (hex: string) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private closed = false;
  /**
   * Resolves once the worker has started and waits for work (or has failed): its start-up
   * (a thread, an isolate, its modules) takes tens of milliseconds of CPU, which a migration
   * started at once shares with its first pass.
   */
  readonly ready: Promise<void>;

  private constructor(memory: GuestMemory) {
    const init: RamHasherInit = {
      blocks: memory.blocks.map((b) => ({ sab: b.bytes.buffer as SharedArrayBuffer, byteOffset: b.bytes.byteOffset, sizeBytes: b.sizeBytes })),
    };
    this.worker = new Worker(new URL('./ram-hasher-worker.js', import.meta.url), { workerData: init, name: 'livemig RAM digest' });
    this.worker.unref();
    let started!: () => void;
    this.ready = new Promise<void>((resolve) => (started = resolve));
    this.worker.on('message', (hex: unknown) => {
      if (hex === RAM_HASHER_READY) {
        started();
        return;
      }
      const p = this.pending;
      this.pending = undefined;
      if (typeof hex === 'string') p?.resolve(hex);
      else p?.reject(new LivemigError('GUEST_STATE', `RAM digest worker failed: ${JSON.stringify(hex)}`));
    });
    const fail = (e: Error): void => {
      started();
      this.failure ??= e;
      this.pending?.reject(e);
      this.pending = undefined;
    };
    this.worker.on('error', (e) => fail(new LivemigError('GUEST_STATE', `RAM digest worker failed: ${e.message}`, { cause: e })));
    this.worker.on('exit', (code) => {
      if (!this.closed) fail(new LivemigError('GUEST_STATE', `RAM digest worker exited with code ${code}`));
    });
  }

  /** True when a worker can read `memory` (every block lives in a SharedArrayBuffer). */
  static canHash(memory: GuestMemory): boolean {
    return memory.blocks.every((b) => b.shared);
  }

  /** Starts the worker for `memory` (its blocks must be shared, as a Guest's are: see {@link RamHasher.canHash}). */
  static start(memory: GuestMemory): RamHasher {
    return new RamHasher(memory);
  }

  /**
   * The hex digest (SHA-256 unless told otherwise) of the RAM as it is while hashing: pause the
   * guest first. One at a time.
   * @throws LivemigError GUEST_STATE if the worker failed, or a digest is already running.
   */
  digest(algorithm: RamDigestAlgorithm = 'sha256'): Promise<string> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new LivemigError('GUEST_STATE', 'RAM digest worker is closed'));
    if (this.pending !== undefined) return Promise.reject(new LivemigError('GUEST_STATE', 'a RAM digest is already running'));
    return new Promise<string>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(algorithm);
    });
  }

  /** Ends the worker; a digest still running is rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending?.reject(new LivemigError('GUEST_STATE', 'RAM digest worker closed'));
    this.pending = undefined;
    await this.worker.terminate();
  }
}
