/**
 * Per-pass telemetry: what one pass over the dirty pages cost, by page kind. A pass ends at
 * each dirty-log sync; the last record is the stop-and-copy stage. One record is emitted as
 * the `pass-end` event and is what `--telemetry FILE` writes as a JSON line.
 */
import type { MigrationCounters } from './stats.js';
import { finite } from './stats.js';

export interface PassRecord {
  /** 1-based pass number (QEMU's dirty-sync-count during the pass). */
  pass: number;
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
  expectedDowntimeMs: number;
  /** Dirty pages left when the pass ended. */
  remainingPages: number;
  /** The vCPU throttle (auto-converge) in force when the pass ended, percent. */
  throttlePercent?: number;
  /** The guest's page writes per second during the pass (0 while it was paused). */
  guestWorkRate?: number;
}

interface Mark {
  t: number;
  duplicate: number;
  duplicateBytes: number;
  normal: number;
  normalBytes: number;
  records: number;
  recordBytes: number;
  skipped: number;
  hits: number;
  misses: number;
  overflow: number;
  xbzrleBytes: number;
  transferred: number;
}

export class PassTelemetry {
  private mark: Mark;
  private dirtyAtStart = 0;

  constructor(private readonly counters: MigrationCounters, private readonly t0: number) {
    this.mark = this.take(t0);
  }

  /** Starts a pass whose sync found `dirtyPages` pages. */
  begin(dirtyPages: number, now: number): void {
    this.mark = this.take(now);
    this.dirtyAtStart = dirtyPages;
  }

  /** Pages found dirty by a later sync that joins the current pass (the final one). */
  addDirty(pages: number): void {
    this.dirtyAtStart += pages;
  }

  /** The record of the pass that ends now. `transferred` is the stream's byte count now. */
  end(now: number, stage: PassRecord['stage'], remainingPages: number, transferred: number): PassRecord {
    const c = this.counters;
    const m = this.mark;
    const ms = Math.max(1, now - m.t);
    const deltaBytes = c.xbzrleRecordBytes - m.recordBytes;
    const hits = c.xbzrlePages - m.hits;
    const xb = c.xbzrleBytes - m.xbzrleBytes;
    const total = transferred - m.transferred;
    return {
      pass: c.dirtySyncCount,
      stage,
      startMs: Math.round(m.t - this.t0),
      endMs: Math.round(now - this.t0),
      pages: { zero: c.duplicate - m.duplicate, normal: c.normal - m.normal, delta: c.xbzrleRecords - m.records, unchanged: c.skipped - m.skipped },
      bytes: { zero: c.duplicateBytes - m.duplicateBytes, normal: c.normalBytes - m.normalBytes, delta: deltaBytes, total },
      dirtyPages: this.dirtyAtStart,
      cacheHits: hits,
      cacheMisses: c.cacheMiss - m.misses,
      overflows: c.overflow - m.overflow,
      encodingRate: hits > 0 && xb > 0 ? finite((hits * 4096) / xb) : 0,
      bandwidthBytesPerSecond: Math.round((total * 1000) / ms),
      expectedDowntimeMs: Math.round(c.expectedDowntimeMs),
      remainingPages,
    };
  }

  private take(t: number): Mark {
    const c = this.counters;
    return {
      t,
      duplicate: c.duplicate,
      duplicateBytes: c.duplicateBytes,
      normal: c.normal,
      normalBytes: c.normalBytes,
      records: c.xbzrleRecords,
      recordBytes: c.xbzrleRecordBytes,
      skipped: c.skipped,
      hits: c.xbzrlePages,
      misses: c.cacheMiss,
      overflow: c.overflow,
      xbzrleBytes: c.xbzrleBytes,
      transferred: c.transferred,
    };
  }
}
