/**
 * vCPU threads started ahead of need, before the guest they will run exists: a destination
 * parks them while RAM arrives, and the switchover hands each one its workload
 * (Guest.resumeFrom with `parked`), so that starting threads (a thread, an isolate, the
 * workload's modules: tens of milliseconds each) is not part of the downtime.
 */
import { Worker } from 'node:worker_threads';

/** What a parked worker gets as workerData. */
export const PARKED = 'parked';

export class ParkedVcpus {
  /** @internal Threads started so far by this process (for tests). */
  static started = 0;
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly given = new Set<Worker>();
  /** Resolves once every worker has loaded and waits for its workload (or failed: it is then not handed out). */
  readonly ready: Promise<void>;

  private constructor(count: number) {
    const url = new URL('./workload-worker.js', import.meta.url);
    const loaded: Promise<void>[] = [];
    for (let v = 0; v < count; v++) {
      const w = new Worker(url, { workerData: PARKED, name: `livemig vCPU (parked)` });
      ParkedVcpus.started++;
      w.unref();
      this.all.push(w);
      loaded.push(
        new Promise<void>((resolve) => {
          w.once('message', () => {
            this.idle.push(w);
            resolve();
          });
          w.once('error', () => resolve());
          w.once('exit', () => resolve());
        }),
      );
    }
    this.ready = Promise.all(loaded).then(() => undefined);
  }

  /** Starts `count` parked vCPU threads. */
  static start(count: number): ParkedVcpus {
    return new ParkedVcpus(count);
  }

  /**
   * A parked worker for a vCPU (it runs once sent its WorkerInit), or undefined when none is
   * left: start a fresh one then. Await {@link ready} first.
   */
  take(): Worker | undefined {
    const w = this.idle.shift();
    if (w === undefined) return undefined;
    this.given.add(w);
    w.ref();
    return w;
  }

  /** Ends the workers not handed out. */
  async close(): Promise<void> {
    this.idle.length = 0;
    await Promise.all(this.all.filter((w) => !this.given.has(w)).map((w) => w.terminate()));
  }
}
