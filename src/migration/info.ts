/**
 * query-migrate (and so `info migrate`) as a pure function of a migration's state: a counters
 * snapshot, the rates of its last bandwidth window and of its last rate period (diffs of
 * snapshots, see counters.ts), its times, parameters and outcome. Nothing here reads a clock
 * or a live object, so the same state always gives the same answer.
 */
import type { AutoConverge } from './auto-converge.js';
import type { CountersDiff, CountersSnapshot } from './counters.js';
import type { DeltaAssessment } from './delta-guard.js';
import type { MigrationCapabilities, MigrationParameters } from './parameters.js';
import type { MigrationStatus } from './state.js';
import type { LivemigStats, MigrationInfo } from './stats.js';
import { finite } from './stats.js';
import type { TlsInfo } from '../transport/index.js';
import type { VerificationResult } from './verification.js';

const PAGE = 4096;

export interface InfoState {
  status: MigrationStatus;
  /** The time the info is for (the migration's clock, ms); ignored once the migration ended. */
  now: number;
  startTime: number;
  /** When the migration ended (completed, failed or cancelled). */
  endTime: number;
  setupTime: number;
  /** A completed migration's downtime, ms. */
  downtime: number;
  /** The counters at `now` (at the end once ended). */
  counters: CountersSnapshot;
  /** The last bandwidth window (QEMU's ~100 ms update): `mbps`, `pages-per-second`. */
  window: CountersDiff | undefined;
  /** The last rate period (>= 1 s, closed at a sync): dirty-pages-rate, cache-miss-rate, encoding-rate. */
  period: CountersDiff | undefined;
  expectedDowntimeMs: number;
  bytesPerDirtyPage: number;
  /** Dirty pages not sent yet (or not sent when the migration failed or was cancelled). */
  remainingPages: number;
  totalBytes: number;
  /** The pass running, or the last one (1, 2, 3, ...; 0 before the first). */
  pass: number;
  parameters: Pick<MigrationParameters, 'xbzrle-cache-size' | 'delta-codec' | 'digest-algorithm'>;
  capabilities: Pick<MigrationCapabilities, 'xbzrle'>;
  forced: boolean;
  error: Error | undefined;
  kernel: string;
  autoConverge: Pick<AutoConverge, 'percent' | 'steps'> | undefined;
  deltaAssessment: DeltaAssessment | undefined;
  deltaDisabledAtPass: number;
  /** The guest's page writes per second during the migration, when known. */
  guestWorkRate: number | undefined;
  downtimeParts: { pauseMs: number; sendMs: number; digestMs: number; confirmMs: number } | undefined;
  /** The expected downtime the switchover was decided on (undefined while iterating). */
  expectedAtSwitchoverMs?: number | undefined;
  ramDigest: string | undefined;
  destinationDigest: string | undefined;
  /** The RAM check's outcome, once the destination answered. */
  verification?: VerificationResult | undefined;
  transport: { description: string; tls?: TlsInfo } | undefined;
}

/** The migration in QEMU's query-migrate shape, plus livemig's fields. No NaN, ever. */
export function migrationInfo(s: InfoState): MigrationInfo {
  if (s.status === 'none') return {};
  const c = s.counters;
  const completed = s.status === 'completed';
  const ended = completed || s.status === 'failed' || s.status === 'cancelled';
  const info: MigrationInfo = { status: s.status };
  // the end is stamped a moment before the status says so (its last pass is reported between):
  // the clock stops there, so that total-time never goes back
  info['total-time'] = Math.round((ended || s.endTime > 0 ? s.endTime : s.now) - s.startTime);
  info['setup-time'] = Math.round(s.setupTime);
  if (completed) info.downtime = Math.round(s.downtime);
  else if (!ended) info['expected-downtime'] = Math.round(s.expectedDowntimeMs);
  if (s.status === 'failed' && s.error) info['error-desc'] = s.error.message;
  if (!ended && s.autoConverge && s.autoConverge.percent > 0) info['cpu-throttle-percentage'] = s.autoConverge.percent;
  // once completed, QEMU shows the mean throughput of the whole migration after its setup
  const mbps = completed ? finite((c.transferred * 8) / Math.max(1, (s.endTime - s.startTime - s.setupTime) * 1000)) : finite(s.window?.mbps ?? 0);
  info.ram = {
    transferred: c.transferred,
    remaining: completed ? 0 : s.remainingPages * PAGE,
    total: s.totalBytes,
    duplicate: c.duplicate,
    skipped: 0,
    normal: c.normal,
    'normal-bytes': c.normalBytes,
    'dirty-pages-rate': completed ? 0 : Math.round(s.period?.dirtyPagesRate ?? 0),
    mbps,
    'dirty-sync-count': c.dirtySyncCount,
    'postcopy-requests': 0,
    'page-size': PAGE,
    'multifd-bytes': 0,
    'pages-per-second': Math.round(s.window?.pagesPerSecond ?? 0),
    'precopy-bytes': c.precopyBytes,
    'downtime-bytes': c.downtimeBytes,
    'postcopy-bytes': 0,
  };
  if (s.capabilities.xbzrle) {
    info['xbzrle-cache'] = {
      'cache-size': s.parameters['xbzrle-cache-size'],
      bytes: c.xbzrleBytes,
      pages: c.xbzrlePages,
      'cache-miss': c.cacheMiss,
      'cache-miss-rate': finite(s.period?.cacheMissRate ?? 0),
      'encoding-rate': finite(s.period?.encodingRate ?? 0),
      overflow: c.overflow,
    };
  }
  const parts = s.downtimeParts;
  info.livemig = {
    codec: s.capabilities.xbzrle ? s.parameters['delta-codec'] : 'none',
    pass: s.pass,
    'delta-records': c.xbzrleRecords,
    'delta-record-bytes': c.xbzrleRecordBytes,
    'duplicate-bytes': c.duplicateBytes,
    'unchanged-skipped': c.skipped,
    'bytes-per-dirty-page': finite(s.bytesPerDirtyPage),
    kernel: s.kernel,
    'forced-switchover': s.forced,
    ...(s.expectedAtSwitchoverMs !== undefined ? { 'expected-downtime-at-switchover': s.expectedAtSwitchoverMs } : {}),
    ...pressureStats(s),
    ...(parts && completed
      ? { 'downtime-parts': { 'pause-ms': Math.round(parts.pauseMs), 'send-ms': Math.round(parts.sendMs), 'digest-ms': Math.round(parts.digestMs), 'confirm-ms': Math.round(parts.confirmMs) } }
      : {}),
    ...(s.ramDigest ? { 'ram-digest': s.ramDigest, 'digest-algorithm': s.parameters['digest-algorithm'] } : {}),
    ...(s.destinationDigest ? { 'destination-digest': s.destinationDigest } : {}),
    ...(s.verification
      ? {
          verification: {
            mode: s.verification.mode,
            algorithm: s.verification.algorithm,
            result: s.verification.result,
            ...(s.verification.chunkCount !== undefined ? { 'differing-chunks': s.verification.chunkCount } : {}),
            ...(s.verification.pages ? { pages: s.verification.pages.map((p) => ({ block: p.block, offset: p.offset, page: p.page })) } : {}),
          },
        }
      : {}),
    ...(s.transport ? { transport: { description: s.transport.description, ...(s.transport.tls ? { tls: { ...s.transport.tls } } : {}) } } : {}),
  };
  return info;
}

/** The livemig fields of auto-converge, delta judgement and the guest's work during the migration. */
function pressureStats(s: InfoState): Partial<LivemigStats> {
  const out: Partial<LivemigStats> = {};
  const ac = s.autoConverge;
  if (ac) {
    out['auto-converge'] = {
      'cpu-throttle-percentage': ac.percent,
      'max-cpu-throttle-reached': ac.steps.reduce((x, st) => Math.max(x, st.percent), 0),
      steps: ac.steps.map((st) => ({ 'at-ms': st.atMs, pass: st.pass, percent: st.percent })),
    };
  }
  const a = s.deltaAssessment;
  if (a) {
    out['delta-assessment'] = { verdict: a.verdict, gain: a.gain, 'encoding-rate': a.encodingRate, 'cache-miss-rate': a.cacheMissRate, 'overflow-rate': a.overflowRate, pages: a.pages, pass: a.pass };
  }
  if (s.deltaDisabledAtPass > 0) out['delta-disabled-at-pass'] = s.deltaDisabledAtPass;
  if (s.guestWorkRate !== undefined) out['guest-work-rate'] = s.guestWorkRate;
  return out;
}
