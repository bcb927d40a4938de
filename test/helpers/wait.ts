/**
 * Waiting for states and events instead of for time: a test that waits for what it needs
 * passes on a loaded machine (it only waits longer) and fails where the state never comes
 * (the test's timeout ends it, with `what` in the message of the last check).
 */
import type { MigrationStatus, OutgoingMigration } from '../../src/migration/index.js';

/** Resolves once `cond()` is true, checked now and then at every timer turn (about 1 ms). */
export async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 1));
}

/** Resolves once `m` is in `status` (at once if it is); rejects if it ends in another final status first. */
export function statusReached(m: OutgoingMigration, status: MigrationStatus): Promise<void> {
  const final = new Set<MigrationStatus>(['completed', 'failed', 'cancelled']);
  return new Promise((resolve, reject) => {
    const check = (s: MigrationStatus): void => {
      if (s === status) {
        m.off('status', check);
        resolve();
      } else if (final.has(s)) {
        m.off('status', check);
        reject(new Error(`migration ${s} before reaching ${status}${m.error ? `: ${m.error.message}` : ''}`));
      }
    };
    m.on('status', check);
    check(m.status);
  });
}

/** Resolves once a machine's work counter has gone past where it is now: it runs. */
export async function workAdvances(machine: { workDone(): number }, by = 1): Promise<void> {
  const from = machine.workDone();
  await until(() => machine.workDone() >= from + by);
}
