/**
 * CPU time of one thread, from Linux's scheduler statistics: what a side of a benchmark spent,
 * which on a shared, loaded machine says more than its wall time (a thread waiting for a core
 * accrues none). Undefined where /proc does not have it.
 */
import { readFileSync } from 'node:fs';

function schedstatMs(path: string): number | undefined {
  try {
    const ns = Number(readFileSync(path, 'utf8').split(' ')[0]);
    return Number.isFinite(ns) ? ns / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU milliseconds the calling thread has run so far. */
export function threadCpuMs(): number | undefined {
  return schedstatMs('/proc/thread-self/schedstat');
}

/** CPU milliseconds the main thread of process `pid` has run so far. */
export function mainThreadCpuMs(pid: number): number | undefined {
  return schedstatMs(`/proc/${pid}/task/${pid}/schedstat`);
}
