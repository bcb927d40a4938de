/**
 * The live counters of one migration (bumped by the page loop; snapshots and rates are in
 * counters.ts) and the query-migrate shape (qapi/migration.json, MigrationInfo), plus XBRLE
 * (2011)'s per-kind counters. A MigrationInfo never holds NaN or Infinity: rates without a
 * denominator are 0.
 */
import type { MigrationStatus } from './state.js';
import type { TlsInfo } from '../transport/index.js';

export class MigrationCounters {
  // ram
  transferred = 0; // every byte written to the stream
  duplicate = 0; // zero / duplicate pages
  duplicateBytes = 0;
  normal = 0; // whole pages (including misses and overflows)
  normalBytes = 0;
  xbzrlePages = 0; // cache hits (encoded, unchanged or overflowed), as QEMU counts them
  xbzrleBytes = 0; // QEMU's xbzrle `bytes`: record bytes minus the 8-byte header, plus a page per overflow
  xbzrleRecords = 0; // delta records actually sent
  xbzrleRecordBytes = 0; // their bytes on the wire
  skipped = 0; // hits that had not changed: nothing sent
  overflow = 0;
  cacheMiss = 0;
  dirtySyncCount = 0;
  dirtyPages = 0; // pages found newly dirty, summed over every sync
  precopyBytes = 0;
  downtimeBytes = 0;
  pagesSent = 0; // pages handled (sent or skipped) by the sender
  // estimates (rates are derived from snapshots, see counters.ts)
  bandwidthBytesPerMs = 0;
  expectedDowntimeMs = 0;
  /**
   * Measured wire bytes per dirty page: the plain mean over the last window of at least 256
   * pages handled after the first pass (a whole page until then); what convergence uses.
   */
  bytesPerDirtyPage = 4096 + 8;
}

export interface RamStats {
  transferred: number;
  remaining: number;
  total: number;
  duplicate: number;
  skipped: number;
  normal: number;
  'normal-bytes': number;
  'dirty-pages-rate': number;
  mbps: number;
  'dirty-sync-count': number;
  'postcopy-requests': number;
  'page-size': number;
  'multifd-bytes': number;
  'pages-per-second': number;
  'precopy-bytes': number;
  'downtime-bytes': number;
  'postcopy-bytes': number;
}

export interface XbzrleCacheStats {
  'cache-size': number;
  bytes: number;
  pages: number;
  'cache-miss': number;
  'cache-miss-rate': number;
  'encoding-rate': number;
  overflow: number;
}

/** livemig's additions: XBRLE (2011)'s counters, the codec and the RAM digest. */
export interface LivemigStats {
  codec: 'none' | 'xbzrle' | 'xbrle';
  /**
   * The pass running, or the last one: 1, 2, 3, ... (0 before the first). QEMU's
   * `dirty-sync-count` counts dirty-log syncs instead, and the last pass holds two of them (the
   * one that ended iterating and the one after the guest stopped), so it runs one ahead at the end.
   */
  pass?: number;
  'delta-records': number;
  'delta-record-bytes': number;
  'duplicate-bytes': number;
  'unchanged-skipped': number;
  'bytes-per-dirty-page': number;
  'ram-digest'?: string;
  /** The algorithm of `ram-digest` and `destination-digest`. */
  'digest-algorithm'?: string;
  'destination-digest'?: string;
  /**
   * The RAM check, once the destination answered: its mode, and `matched` or `mismatch` with
   * the chunks (64 pages each) that differ and the pages named in them.
   */
  verification?: {
    mode: string;
    algorithm: string;
    result: 'matched' | 'mismatch';
    'differing-chunks'?: number;
    pages?: { block: string; offset: number; page: number }[];
  };
  kernel: string;
  /** The switchover was forced by max-iterations / max-time (stall-policy force). */
  'forced-switchover': boolean;
  /** Once the iterate stage ended: the expected downtime the switchover was decided on. */
  'expected-downtime-at-switchover'?: number;
  /** The connection: both ends in words and, over TLS, the session and the verified peer. */
  transport?: { description: string; tls?: TlsInfo };
  /** With the auto-converge capability: the throttle now, the highest, and each step. */
  'auto-converge'?: AutoConvergeStats;
  /** With delta compression, once a window was judged: does it pay on the wire (see delta-guard.ts). */
  'delta-assessment'?: DeltaAssessmentStats;
  /** With auto-xbzrle: the pass in which delta compression was switched off. */
  'delta-disabled-at-pass'?: number;
  /** The guest's page writes per second while it ran during this migration (before switchover). */
  'guest-work-rate'?: number;
  /**
   * A completed migration's downtime, part by part: stopping the vCPUs, sending the rest, the
   * source's RAM digest, the destination's confirmation (its digest check and resume).
   */
  'downtime-parts'?: { 'pause-ms': number; 'send-ms': number; 'digest-ms': number; 'confirm-ms': number };
}

export interface AutoConvergeStats {
  'cpu-throttle-percentage': number;
  'max-cpu-throttle-reached': number;
  steps: { 'at-ms': number; pass: number; percent: number }[];
}

export interface DeltaAssessmentStats {
  verdict: 'helps' | 'hurts';
  gain: number;
  'encoding-rate': number;
  'cache-miss-rate': number;
  'overflow-rate': number;
  pages: number;
  pass: number;
}

export interface MigrationInfo {
  status?: MigrationStatus;
  'total-time'?: number;
  'setup-time'?: number;
  'expected-downtime'?: number;
  downtime?: number;
  'error-desc'?: string;
  /** QEMU's: the vCPU throttle in percent, while auto-converge throttles. */
  'cpu-throttle-percentage'?: number;
  ram?: RamStats;
  'xbzrle-cache'?: XbzrleCacheStats;
  livemig?: LivemigStats;
}

/** Replaces a non-finite number by 0 and rounds to a few decimals, for JSON. */
export function finite(v: number, decimals = 2): number {
  if (!Number.isFinite(v)) return 0;
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}
