/**
 * Per-pass telemetry: what one pass over the dirty pages cost, by page kind. A pass ends at
 * each dirty-log sync; the last record is the stop-and-copy stage. One record is emitted as
 * the `pass-end` event and is what `--telemetry FILE` writes as a JSON line.
 */
import { finite } from './stats.js';
import { diffCounters } from './counters.js';
import type { CountersSnapshot } from './counters.js';

export interface PassRecord {
  /**
   * The pass: 1, 2, 3, ... in order. Not QEMU's dirty-sync-count: the sync that ends the
   * iterate stage and the one after the guest stops both belong to the last pass.
   */
  pass: number;
  /** QEMU's dirty-sync-count (dirty-log syncs so far) when the pass ended. */
  dirtySyncCount: number;
  stage: 'iterate' | 'stop-and-copy';
  /** Milliseconds since the migration started, at the pass's start and end. */
  startMs: number;
  endMs: number;
  pages: { zero: number; normal: number; delta: number; unchanged: number };
  bytes: { zero: number; normal: number; delta: number; total: number };
  /** Pages found dirty by the sync that started this pass. */
  dirtyPages: number;
  cacheHits: number;
  cacheMisses: number;
  overflows: number;
  /** Page bytes represented per delta byte in this pass (QEMU's encoding-rate), 0 without deltas. */
  encodingRate: number;
  /** Bytes per second on the wire during this pass. */
  bandwidthBytesPerSecond: number;
  /** The expected downtime at the pass's end; for the stop-and-copy, the one the switchover was decided on. */
  expectedDowntimeMs: number;
  /** The stop-and-copy of a completed migration: the downtime it really took. */
  downtimeMs?: number;
  /** Dirty pages left when the pass ended. */
  remainingPages: number;
  /** The vCPU throttle (auto-converge) in force when the pass ended, percent. */
  throttlePercent?: number;
  /** The guest's page writes per second during the pass (0 while it was paused). */
  guestWorkRate?: number;
}

export class PassTelemetry {
  private mark: CountersSnapshot;
  private dirtyAtStart = 0;
  private pass = 0;

  constructor(private readonly t0: number, start: CountersSnapshot) {
    this.mark = start;
  }

  /** Starts the next pass at `now` (a snapshot after the sync that found `dirtyPages` pages). */
  begin(dirtyPages: number, now: CountersSnapshot): number {
    this.mark = now;
    this.dirtyAtStart = dirtyPages;
    return ++this.pass;
  }

  /** The pass running (1, 2, 3, ...), 0 before the first. */
  get current(): number {
    return this.pass;
  }

  /** Pages found dirty by a later sync that joins the current pass (the final one). */
  addDirty(pages: number): void {
    this.dirtyAtStart += pages;
  }

  /**
   * The record of the pass that ends at `now`; `expectedDowntimeMs` is the estimate then.
   */
  end(now: CountersSnapshot, stage: PassRecord['stage'], remainingPages: number, expectedDowntimeMs: number): PassRecord {
    const d = diffCounters(this.mark, now);
    return {
      pass: this.pass,
      dirtySyncCount: now.dirtySyncCount,
      stage,
      startMs: Math.round(this.mark.t - this.t0),
      endMs: Math.round(now.t - this.t0),
      pages: { zero: d.pages.zero, normal: d.pages.normal, delta: d.pages.delta, unchanged: d.pages.unchanged },
      bytes: { zero: d.bytes.zero, normal: d.bytes.normal, delta: d.bytes.delta, total: d.bytes.total },
      dirtyPages: this.dirtyAtStart,
      cacheHits: d.hits,
      cacheMisses: d.misses,
      overflows: d.overflows,
      encodingRate: finite(d.encodingRate),
      // over at least 1 ms, as a pass's bandwidth always was
      bandwidthBytesPerSecond: Math.round((d.bytes.total * 1000) / Math.max(1, d.ms)),
      expectedDowntimeMs: Math.round(expectedDowntimeMs),
      remainingPages,
    };
  }
}
