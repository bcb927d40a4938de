/**
 * Auto-converge (QEMU's `migration_trigger_throttle` and `mig_throttle_guest_down` in
 * migration/ram.c): when the guest dirties faster than the link drains, slow its vCPUs
 * down step by step.
 *
 * At a dirty-log sync that closes a period of at least 1 s, compare what the period dirtied
 * with what it sent: if `bytes dirtied > bytes sent * throttle-trigger-threshold / 100` on two
 * periods (the count is reset when it fires, not by a good period), throttle: first to
 * `cpu-throttle-initial`, then `+ cpu-throttle-increment` each time, never above
 * `max-cpu-throttle`. QEMU counts a dirty page as 4 KiB; livemig counts what it will cost
 * on the wire (the measured bytes per dirty page), so a guest whose rewrites cost a few bytes
 * under XBZRLE is not slowed down for nothing.
 */
import type { MigrationParameters } from './parameters.js';
import { diffCounters } from './counters.js';
import type { CountersSnapshot } from './counters.js';

/** QEMU measures the dirty rate over periods of at least this long. */
export const THROTTLE_PERIOD_MS = 1000;
/** QEMU 9.2+: with auto-converge, a dirty-log sync happens at least this often. */
export const AUTO_CONVERGE_SYNC_MS = 5000;

/** One throttle step, for telemetry. */
export interface ThrottleStep {
  /** Milliseconds since the migration started. */
  atMs: number;
  /** The pass (1, 2, 3, ...) during which it was raised. */
  pass: number;
  percent: number;
  /** The period that triggered it: bytes dirtied (at wire cost) and bytes sent. */
  bytesDirty: number;
  bytesSent: number;
}

type ThrottleParameters = Pick<MigrationParameters, 'throttle-trigger-threshold' | 'cpu-throttle-initial' | 'cpu-throttle-increment' | 'max-cpu-throttle'>;

export class AutoConverge {
  /** The throttle in force, 0 before the first step. */
  percent = 0;
  readonly steps: ThrottleStep[] = [];
  private highPeriods = 0;
  private periodStart: CountersSnapshot;

  /** `parameters` is read at each decision, so changes made during the migration apply. */
  constructor(private readonly parameters: ThrottleParameters, start: CountersSnapshot) {
    this.periodStart = start;
  }

  /**
   * At a dirty-log sync (`now`: the counters after it). Each page dirtied in the period will
   * cost about `bytesPerDirtyPage` on the wire. Returns the new throttle when it rises.
   */
  onSync(now: CountersSnapshot, bytesPerDirtyPage: number, pass: number, sinceStartMs: number): number | undefined {
    if (now.t - this.periodStart.t < THROTTLE_PERIOD_MS) return undefined;
    const d = diffCounters(this.periodStart, now);
    this.periodStart = now;
    const p = this.parameters;
    const bytesDirty = d.dirtyPages * bytesPerDirtyPage;
    const bytesSent = d.bytes.total;
    if (bytesDirty <= (bytesSent * p['throttle-trigger-threshold']) / 100) return undefined;
    if (++this.highPeriods < 2) return undefined;
    this.highPeriods = 0;
    const max = p['max-cpu-throttle'];
    const next = this.percent === 0 ? Math.min(p['cpu-throttle-initial'], max) : Math.min(this.percent + p['cpu-throttle-increment'], max);
    if (next === this.percent) return undefined;
    this.percent = next;
    this.steps.push({ atMs: Math.round(sinceStartMs), pass, percent: next, bytesDirty: Math.round(bytesDirty), bytesSent });
    return next;
  }
}
