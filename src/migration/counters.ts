/**
 * The accounting of one migration in two parts: the live counters the page loop bumps
 * ({@link MigrationCounters}, plain fields, no allocation per page), and immutable snapshots
 * of them taken at a time on the migration's clock. Every rate anyone shows or decides on
 * (throughput, dirty rate, encoding rate, cache-miss rate, wire gain, ...) is the difference
 * of two snapshots, computed by {@link diffCounters} and nowhere else. Each user keeps its own
 * start snapshot (the 100 ms bandwidth window, the 1 s rate period, a pass, a delta-guard
 * window, an auto-converge period), so they may close at different times without sharing
 * mutable marks.
 */
import type { MigrationCounters } from './stats.js';

const PAGE = 4096;
/** Wire bytes of a whole page record: 8-byte header + the page. */
export const WHOLE_PAGE_WIRE_BYTES = PAGE + 8;

/** The cumulative counters of a migration at time `t` (ms, the migration's clock). */
export interface CountersSnapshot {
  readonly t: number;
  /** Bytes written to the stream (QEMU's `transferred`). */
  readonly transferred: number;
  /** Pages sent as ZERO records and their record bytes. */
  readonly duplicate: number;
  readonly duplicateBytes: number;
  /** Pages sent whole (misses and overflows included) and their page bytes. */
  readonly normal: number;
  readonly normalBytes: number;
  /** Cache hits (QEMU's xbzrle `pages`) and QEMU's xbzrle `bytes`. */
  readonly xbzrlePages: number;
  readonly xbzrleBytes: number;
  /** Delta records sent and their wire bytes. */
  readonly xbzrleRecords: number;
  readonly xbzrleRecordBytes: number;
  /** Hits whose page had not changed: nothing sent. */
  readonly skipped: number;
  readonly overflow: number;
  readonly cacheMiss: number;
  readonly dirtySyncCount: number;
  /** Pages the dirty-log syncs found newly dirty, summed over every sync. */
  readonly dirtyPages: number;
  readonly precopyBytes: number;
  readonly downtimeBytes: number;
  /** Pages handled by the sender (sent or skipped). */
  readonly pagesSent: number;
}

/** A snapshot of `c` at `t`, frozen. One allocation: take it per window or sync, never per page. */
export function snapshotCounters(c: Readonly<MigrationCounters>, t: number): CountersSnapshot {
  return Object.freeze({
    t,
    transferred: c.transferred,
    duplicate: c.duplicate,
    duplicateBytes: c.duplicateBytes,
    normal: c.normal,
    normalBytes: c.normalBytes,
    xbzrlePages: c.xbzrlePages,
    xbzrleBytes: c.xbzrleBytes,
    xbzrleRecords: c.xbzrleRecords,
    xbzrleRecordBytes: c.xbzrleRecordBytes,
    skipped: c.skipped,
    overflow: c.overflow,
    cacheMiss: c.cacheMiss,
    dirtySyncCount: c.dirtySyncCount,
    dirtyPages: c.dirtyPages,
    precopyBytes: c.precopyBytes,
    downtimeBytes: c.downtimeBytes,
    pagesSent: c.pagesSent,
  });
}

/** A snapshot of nothing counted yet, at `t`. */
export function emptySnapshot(t: number): CountersSnapshot {
  return Object.freeze({
    t, transferred: 0, duplicate: 0, duplicateBytes: 0, normal: 0, normalBytes: 0, xbzrlePages: 0, xbzrleBytes: 0, xbzrleRecords: 0,
    xbzrleRecordBytes: 0, skipped: 0, overflow: 0, cacheMiss: 0, dirtySyncCount: 0, dirtyPages: 0, precopyBytes: 0, downtimeBytes: 0, pagesSent: 0,
  });
}

/** What happened between two snapshots, and every rate derived from it. Never NaN or Infinity. */
export interface CountersDiff {
  /** Milliseconds between the snapshots (0 when `to` is not later). */
  readonly ms: number;
  readonly pages: { readonly zero: number; readonly normal: number; readonly delta: number; readonly unchanged: number; readonly sent: number };
  readonly bytes: { readonly zero: number; readonly normal: number; readonly delta: number; readonly total: number };
  readonly hits: number;
  readonly misses: number;
  readonly overflows: number;
  /** Pages found newly dirty by the syncs in between. */
  readonly dirtyPages: number;
  readonly syncs: number;
  /** Stream bytes per second (0 over no time). */
  readonly bytesPerSecond: number;
  /** QEMU's `mbps`: megabits (10^6) per second. */
  readonly mbps: number;
  readonly pagesPerSecond: number;
  /** QEMU's `dirty-pages-rate`: pages dirtied per second. */
  readonly dirtyPagesRate: number;
  /** QEMU's `encoding-rate`: page bytes of the cache hits per xbzrle byte (0 without any). */
  readonly encodingRate: number;
  /** QEMU's `cache-miss-rate`: misses per page sent. */
  readonly cacheMissRate: number;
  /** Misses per cache lookup (hits + misses). */
  readonly missesPerLookup: number;
  /** Overflows per cache hit. */
  readonly overflowRate: number;
  /**
   * What the non-zero pages would have cost sent whole ÷ what they did cost (whole pages,
   * delta records, nothing for unchanged ones): 1 = no gain; `WHOLE_PAGE_WIRE_BYTES` when
   * they cost nothing; 0 without such pages.
   */
  readonly wireGain: number;
}

/** `to` minus `from`: the counts in between and their rates. */
export function diffCounters(from: CountersSnapshot, to: CountersSnapshot): CountersDiff {
  const ms = Math.max(0, to.t - from.t);
  const total = to.transferred - from.transferred;
  const normal = to.normal - from.normal;
  const delta = to.xbzrleRecords - from.xbzrleRecords;
  const unchanged = to.skipped - from.skipped;
  const deltaBytes = to.xbzrleRecordBytes - from.xbzrleRecordBytes;
  const sent = to.pagesSent - from.pagesSent;
  const hits = to.xbzrlePages - from.xbzrlePages;
  const misses = to.cacheMiss - from.cacheMiss;
  const overflows = to.overflow - from.overflow;
  const xbzrleBytes = to.xbzrleBytes - from.xbzrleBytes;
  const dirtyPages = to.dirtyPages - from.dirtyPages;
  const perSecond = (n: number): number => (ms > 0 ? (n * 1000) / ms : 0);
  const nonZero = normal + delta + unchanged;
  const cost = normal * WHOLE_PAGE_WIRE_BYTES + deltaBytes;
  return {
    ms,
    pages: { zero: to.duplicate - from.duplicate, normal, delta, unchanged, sent },
    bytes: { zero: to.duplicateBytes - from.duplicateBytes, normal: to.normalBytes - from.normalBytes, delta: deltaBytes, total },
    hits,
    misses,
    overflows,
    dirtyPages,
    syncs: to.dirtySyncCount - from.dirtySyncCount,
    bytesPerSecond: perSecond(total),
    mbps: ms > 0 ? (total * 8) / (ms * 1000) : 0,
    pagesPerSecond: perSecond(sent),
    dirtyPagesRate: perSecond(dirtyPages),
    encodingRate: hits > 0 && xbzrleBytes > 0 ? (hits * PAGE) / xbzrleBytes : 0,
    cacheMissRate: sent > 0 ? misses / sent : 0,
    missesPerLookup: hits + misses > 0 ? misses / (hits + misses) : 0,
    overflowRate: hits > 0 ? overflows / hits : 0,
    wireGain: nonZero === 0 ? 0 : cost > 0 ? Math.min(WHOLE_PAGE_WIRE_BYTES, (nonZero * WHOLE_PAGE_WIRE_BYTES) / cost) : WHOLE_PAGE_WIRE_BYTES,
  };
}
