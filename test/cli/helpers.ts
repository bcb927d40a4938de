/**
 * Shared by the cli tests: a real small migration run in-process (a 4 MiB guest running the
 * write-hot seed workload, migrated to a file through a simulated link so it takes a few
 * passes), and synthetic report runs whose every number is known.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Guest, GuestMemory } from '../../src/guest/index.js';
import { SourceManager } from '../../src/migration/index.js';
import type { MigrationInfo, OutgoingMigration, PassRecord } from '../../src/migration/index.js';
import type { ReportRun } from '../../src/cli/report/index.js';
import type { RunSpec } from '../../src/cli/bench/matrix.js';
import type { BenchOutput } from '../../src/cli/bench/report.js';
import type { RunResult } from '../../src/cli/bench/run.js';

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface SmallMigration {
  ramBytes?: number;
  xbzrle?: boolean;
  /** Simulated link in bytes/s (default 8 MiB/s: a pass takes about 350 ms, and XBZRLE gets cache hits). */
  linkBytesPerSecond?: number;
  maxTimeMs?: number;
  /**
   * Fill RAM with pseudo-random bytes before the guest starts: the first pass then sends whole
   * pages, not ZERO records, however few pages the guest has written when it begins.
   */
  prefill?: boolean;
}

/**
 * Runs one migration of a fresh guest to `file:PATH`; `attach` is called with the migration
 * before it runs (to attach telemetry, a recorder or a progress bar).
 */
export async function migrateSmall(path: string, o: SmallMigration, attach: (m: OutgoingMigration) => void): Promise<OutgoingMigration> {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: o.ramBytes ?? 4 * 1024 * 1024 }]);
  if (o.prefill) {
    const ram = new Int32Array(memory.blocks[0]!.bytes.buffer, memory.blocks[0]!.bytes.byteOffset, memory.blocks[0]!.bytes.length >>> 2);
    let x = 0x9e3779b9 | 0;
    for (let i = 0; i < ram.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      ram[i] = x;
    }
  }
  const guest = await Guest.start({ memory, workload: 'seed', seed: 7 });
  try {
    const src = new SourceManager(guest);
    src.setParameter('max-bandwidth', 0);
    src.setParameter('link-bandwidth', o.linkBytesPerSecond ?? 8 * 1024 * 1024);
    src.setParameter('max-time', o.maxTimeMs ?? 2000);
    src.setParameter('xbzrle-cache-size', 8 * 1024 * 1024);
    src.setCapability('xbzrle', o.xbzrle ?? true);
    let migration: OutgoingMigration | undefined;
    src.onMigration((m) => {
      migration = m;
      attach(m);
    });
    const { done } = src.migrate(`file:${path}`);
    const status = await done;
    if (status !== 'completed') throw new Error(`migration ended ${status}: ${migration?.error?.message ?? ''}`);
    return migration!;
  } finally {
    await guest.stop();
  }
}

/** A pass record with round numbers: `normal` whole pages, `delta` delta pages of 20 bytes (no delta pages: no cache lookups). */
export function pass(n: number, stage: PassRecord['stage'], normal: number, delta: number, startMs: number, endMs: number, extra: Partial<PassRecord> = {}): PassRecord {
  const zero = 3;
  const bytes = { zero: zero * 9, normal: normal * 4096, delta: delta * 20, total: 0 };
  bytes.total = bytes.zero + bytes.normal + bytes.delta + (normal + delta + zero) * 8 + 100;
  return {
    pass: n, dirtySyncCount: stage === 'stop-and-copy' ? n + 1 : n, stage, startMs, endMs,
    pages: { zero, normal, delta, unchanged: 1 },
    bytes,
    dirtyPages: normal + delta + zero + 1,
    cacheHits: delta, cacheMisses: n === 1 || delta === 0 ? 0 : Math.round(normal / 2), overflows: 0,
    encodingRate: delta > 0 ? 204.8 : 0,
    bandwidthBytesPerSecond: Math.round((bytes.total * 1000) / Math.max(1, endMs - startMs)),
    expectedDowntimeMs: 250, remainingPages: 0,
    ...extra,
  };
}

function info(codec: 'xbzrle' | 'none', passes: readonly PassRecord[], downtime: number, forced: boolean): MigrationInfo {
  const transferred = passes.reduce((a, p) => a + p.bytes.total, 0);
  const sum = (f: (p: PassRecord) => number) => passes.reduce((a, p) => a + f(p), 0);
  return {
    status: 'completed', 'total-time': passes[passes.length - 1]!.endMs, 'setup-time': 5, downtime,
    ram: {
      transferred, remaining: 0, total: 4 * 1024 * 1024, duplicate: sum((p) => p.pages.zero), skipped: 0,
      normal: sum((p) => p.pages.normal), 'normal-bytes': sum((p) => p.bytes.normal), 'dirty-pages-rate': 0, mbps: 100,
      'dirty-sync-count': passes.length, 'postcopy-requests': 0, 'page-size': 4096, 'multifd-bytes': 0, 'pages-per-second': 0,
      'precopy-bytes': transferred - passes[passes.length - 1]!.bytes.total, 'downtime-bytes': passes[passes.length - 1]!.bytes.total, 'postcopy-bytes': 0,
    },
    ...(codec === 'xbzrle' ? { 'xbzrle-cache': { 'cache-size': 8 << 20, bytes: sum((p) => p.bytes.delta), pages: sum((p) => p.cacheHits), 'cache-miss': sum((p) => p.cacheMisses), 'cache-miss-rate': 0.1, 'encoding-rate': 204.8, overflow: 0 } } : {}),
    livemig: { codec, pass: passes.length, 'delta-records': sum((p) => p.pages.delta), 'delta-record-bytes': sum((p) => p.bytes.delta), 'duplicate-bytes': sum((p) => p.bytes.zero), 'unchanged-skipped': 4, 'bytes-per-dirty-page': 30, kernel: 'ts', 'forced-switchover': forced },
  };
}

/** Two runs like the demo's: XBZRLE converging in 4 passes, none forced after 5. */
export function syntheticRuns(labels: readonly [string, string] = ['XBZRLE', 'no delta compression']): ReportRun[] {
  const x = [pass(1, 'iterate', 1000, 0, 10, 1010), pass(2, 'iterate', 400, 600, 1010, 1500), pass(3, 'iterate', 50, 900, 1500, 1700), pass(4, 'stop-and-copy', 5, 300, 1700, 1760)];
  const n = [pass(1, 'iterate', 1000, 0, 10, 1010), pass(2, 'iterate', 1000, 0, 1010, 2010), pass(3, 'iterate', 1000, 0, 2010, 3010), pass(4, 'iterate', 1000, 0, 3010, 4010), pass(5, 'stop-and-copy', 1000, 0, 4010, 5010)];
  const samples = (passes: readonly PassRecord[]) => {
    let bytes = 0;
    return passes.flatMap((p) => {
      const out = [0.25, 0.5, 0.75, 1].map((f) => ({ tMs: Math.round(p.startMs + f * (p.endMs - p.startMs)), transferredBytes: Math.round(bytes + f * p.bytes.total), remainingBytes: Math.round((1 - f) * 4096 * (p.pages.normal + p.pages.delta)), pass: p.pass, status: p.stage === 'iterate' ? 'active' as const : 'device' as const }));
      bytes += p.bytes.total;
      return out;
    });
  };
  return [
    { label: labels[0], info: info('xbzrle', x, 80, false), passes: x, samples: samples(x), parameters: { 'downtime-limit': 300, 'link-bandwidth': 4 << 20 }, digestsMatch: true },
    { label: labels[1], info: info('none', n, 1010, true), passes: n, samples: samples(n), parameters: { 'downtime-limit': 300, 'link-bandwidth': 4 << 20 }, digestsMatch: true },
  ];
}

/** A completed run of `spec` with round numbers (downtime and bytes differ per spec, so bars differ). */
export function fakeRun(spec: RunSpec, i: number): RunResult {
  const bytes = (10 + i) * 1024 * 1024;
  return {
    spec, repeat: 1, status: 'completed', converged: true, forced: false,
    totalMs: 1000 + 100 * i, downtimeMs: 50 + 10 * i, guestDowntimeMs: 45 + 10 * i, verifyMs: 0, resumeMs: 0, netDowntimeMs: 30 + 10 * i,
    downtimeParts: { pauseMs: 0, sendMs: 0, digestMs: 0, confirmMs: 0 }, setupMs: 0, passes: 3,
    bytes: { total: bytes, zero: 1024, normal: bytes / 2, delta: spec.codec === 'none' ? 0 : bytes / 4, stopAndCopy: 0 }, pages: { zero: 1, normal: 1, delta: 1, unchanged: 0 },
    cacheBytes: 0, cacheMissRate: 0, encodingRate: 0, overflows: 0, deltaVerdict: '-', deltaGain: 0, deltaDisabledAtPass: 0,
    senderCpuMs: 100, receiverCpuMs: 100, guestCpuMs: 100, workRate: { before: 1, during: 1, after: 1 }, throttleMax: 0, digestsMatch: true, passRecords: [],
  };
}

export function fakeBench(specs: readonly RunSpec[]): BenchOutput {
  return {
    meta: { matrix: 'tiny', repeat: 1, command: 'livemig bench --matrix tiny', startedAt: '2026-01-01T00:00:00Z', elapsedMs: 1000, node: 'v20', cpus: 2, cpuModel: 'cpu', kernel: '6', link: 'simulated', loadAverage: { before: 0, after: 0 } },
    runs: specs.map((s, i) => fakeRun(s, i)),
  };
}
