/**
 * Runs one RunSpec: a destination process, then a source process that migrates to it
 * (loopback tcp through the simulated link, or with --netns a veth pair between two network
 * namespaces shaped by tc), and turns what both printed into the run's metrics.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { MigrationInfo, PassRecord } from '../../migration/index.js';
import type { RunSpec } from './matrix.js';
import type { NetnsLink } from './netns.js';
import { DESTINATION_ADDRESS } from './netns.js';

const SOURCE_CHILD = fileURLToPath(new URL('./source-child.js', import.meta.url));
const DESTINATION_CHILD = fileURLToPath(new URL('./destination-child.js', import.meta.url));

/** What one run measured. Times in ms, sizes in bytes, rates per second. Never NaN. */
export interface RunResult {
  spec: RunSpec;
  /** Which run of its cell this was, from 1 (`livemig bench --repeat`); absent from a lone runOne. */
  repeat?: number;
  /** The host's 1-minute load average when the run started (set by the harness; other work on the machine skews timings). */
  loadAverage?: number;
  status: string;
  error?: string;
  /** Completed without a forced switchover. */
  converged: boolean;
  forced: boolean;
  totalMs: number;
  /** Source-measured: from pausing the guest to the destination's confirmation (QEMU's definition), RAM verification included. */
  downtimeMs: number;
  /** From the guest's last write on the source to its first on the destination. */
  guestDowntimeMs: number | null;
  /** One sha256 of the RAM on this machine: livemig checks RAM on both sides during the downtime. */
  verifyMs: number;
  /** Starting the vCPU threads on the destination (measured there before the migration): part of the downtime. */
  resumeMs: number;
  /**
   * The part of the downtime QEMU's consists of: stopping the vCPUs and sending
   * what was left (livemig's `downtime-parts` pause + send), without what only livemig pays
   * inside it: the RAM digest on both sides and resuming the guest's threads before confirming.
   */
  netDowntimeMs: number;
  /** livemig's downtime, part by part (see OutgoingMigration.downtimeParts). */
  downtimeParts: { pauseMs: number; sendMs: number; digestMs: number; confirmMs: number };
  setupMs: number;
  passes: number;
  bytes: { total: number; zero: number; normal: number; delta: number; stopAndCopy: number };
  pages: { zero: number; normal: number; delta: number; unchanged: number };
  cacheBytes: number;
  cacheMissRate: number;
  encodingRate: number;
  overflows: number;
  deltaVerdict: string;
  deltaGain: number;
  deltaDisabledAtPass: number;
  senderCpuMs: number;
  receiverCpuMs: number;
  guestCpuMs: number;
  /** The guest's page writes per second: before the migration, during it (until switchover), after it (on the destination). */
  workRate: { before: number; during: number; after: number };
  throttleMax: number;
  digestsMatch: boolean;
  /** Why this run is not exactly what was asked (e.g. no netem: no delay). */
  note?: string;
  passRecords: PassRecord[];
}

export interface RunEnv {
  netns?: NetnsLink;
  /** Aborting kills the run's processes at once (the harness does it on SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Extra ms a run may take beyond its max-time before it is killed. */
  slackMs?: number;
}

interface Child {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string;
  next(kind: string, ms: number): Promise<Record<string, unknown>>;
}

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const c: Child = {
    proc,
    lines: [],
    stderr: '',
    next(kind, ms) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const e = c.lines.find((l) => l['event'] === kind || l['event'] === 'error');
          if (!e) return false;
          cleanup();
          if (e['event'] === 'error') reject(new Error(String(e['error'])));
          else resolve(e);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no '${kind}' from ${args.find((a) => a.endsWith('.js'))} within ${ms} ms; stderr: ${c.stderr.slice(-500)}`));
        }, ms);
        const onExit = (code: number | null): void => {
          setImmediate(() => {
            if (!check()) {
              cleanup();
              reject(new Error(`exited (${code}) before '${kind}'; stderr: ${c.stderr.slice(-500)}`));
            }
          });
        };
        const onLine = (): void => void check();
        const cleanup = (): void => {
          clearTimeout(timer);
          proc.off('exit', onExit);
          lineEvents.off('line', onLine);
        };
        const lineEvents = rl;
        if (check()) return;
        rl.on('line', onLine);
        proc.on('exit', onExit);
      });
    },
  };
  const rl = createInterface({ input: proc.stdout! });
  rl.on('line', (l) => {
    try {
      c.lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      // not an event
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (c.stderr += d.toString()));
  return c;
}

function kill(c: Child | undefined): void {
  if (c && c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
}

/** Runs one migration; never throws (a failure is a result with status `error`). */
export async function runOne(spec: RunSpec, env: RunEnv = {}): Promise<RunResult> {
  const node = process.execPath;
  const slack = env.slackMs ?? 60_000;
  const childEnv = { ...process.env, ...(env.netns ? { LIVEMIG_BENCH_NETNS: '1' } : {}) };
  let dst: Child | undefined;
  let src: Child | undefined;
  const onAbort = (): void => {
    kill(src);
    kill(dst);
  };
  env.signal?.addEventListener('abort', onAbort);
  try {
    if (env.signal?.aborted) throw new Error('aborted');
    const listen = env.netns ? `tcp:${DESTINATION_ADDRESS}:0` : 'tcp:127.0.0.1:0';
    const timing = [String(spec.warmupMs), String(spec.measureMs), String(spec.vcpus)];
    if (env.netns) {
      env.netns.shape({ bitsPerSecond: spec.linkBitsPerSecond, delayMs: 0, lossPercent: 0 });
      const d = env.netns.exec(env.netns.destinationNs, [node, DESTINATION_CHILD, listen, String(spec.ramBytes), ...timing]);
      dst = start(d.cmd, d.args, childEnv);
    } else {
      dst = start(node, [DESTINATION_CHILD, listen, String(spec.ramBytes), ...timing], childEnv);
    }
    const listening = await dst.next('listening', 30_000);
    const uri = String(listening['uri']);
    const srcArgs = [SOURCE_CHILD, JSON.stringify(spec), uri];
    if (env.signal?.aborted) throw new Error('aborted');
    if (env.netns) {
      const s = env.netns.exec(env.netns.sourceNs, [node, ...srcArgs]);
      src = start(s.cmd, s.args, childEnv);
    } else {
      src = start(node, srcArgs, childEnv);
    }
    const budget = spec.warmupMs + spec.measureMs + spec.maxTimeMs + slack;
    const [r, d] = await Promise.all([src.next('result', budget), dst.next('done', budget + spec.warmupMs + spec.measureMs)]);
    return toResult(spec, r, d);
  } catch (e) {
    return failed(spec, e instanceof Error ? e.message : String(e));
  } finally {
    env.signal?.removeEventListener('abort', onAbort);
    onAbort();
  }
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function toResult(spec: RunSpec, r: Record<string, unknown>, d: Record<string, unknown>): RunResult {
  const info = r['info'] as MigrationInfo;
  const passes = (r['passes'] as PassRecord[]) ?? [];
  const sum = (f: (p: PassRecord) => number): number => passes.reduce((s, p) => s + f(p), 0);
  const iterate = passes.filter((p) => p.stage === 'iterate');
  const xc = info['xbzrle-cache'];
  const hits = num(xc?.pages);
  const misses = num(xc?.['cache-miss']);
  const verifyMs = num(r['verifyMs']);
  const downtimeMs = num(info.downtime);
  const stop = passes.find((p) => p.stage === 'stop-and-copy');
  const lm = info.livemig;
  const parts = lm?.['downtime-parts'];
  const during = (() => {
    const t = iterate.reduce((s, p) => s + (p.endMs - p.startMs), 0);
    return t > 0 ? iterate.reduce((s, p) => s + (p.guestWorkRate ?? 0) * (p.endMs - p.startMs), 0) / t : num(lm?.['guest-work-rate']);
  })();
  const status = String(r['status']);
  const destStatus = String(d['status']);
  const res: RunResult = {
    spec,
    status: status === 'completed' && destStatus !== 'completed' ? `destination ${destStatus}` : status,
    converged: status === 'completed' && r['forced'] !== true,
    forced: r['forced'] === true,
    totalMs: num(info['total-time']),
    downtimeMs,
    guestDowntimeMs: typeof d['guestDowntimeMs'] === 'number' ? Math.round(d['guestDowntimeMs']) : null,
    verifyMs: Math.round(verifyMs),
    resumeMs: Math.round(num(d['resumeMs'])),
    netDowntimeMs: Math.round(num(parts?.['pause-ms']) + num(parts?.['send-ms'])),
    downtimeParts: { pauseMs: num(parts?.['pause-ms']), sendMs: num(parts?.['send-ms']), digestMs: num(parts?.['digest-ms']), confirmMs: num(parts?.['confirm-ms']) },
    setupMs: num(info['setup-time']),
    passes: num(info.livemig?.pass ?? info.ram?.['dirty-sync-count']),
    bytes: {
      total: num(info.ram?.transferred),
      zero: sum((p) => p.bytes.zero),
      normal: sum((p) => p.bytes.normal),
      delta: sum((p) => p.bytes.delta),
      stopAndCopy: num(stop?.bytes.total),
    },
    pages: { zero: sum((p) => p.pages.zero), normal: sum((p) => p.pages.normal), delta: sum((p) => p.pages.delta), unchanged: sum((p) => p.pages.unchanged) },
    cacheBytes: num(r['cacheBytes']),
    cacheMissRate: hits + misses > 0 ? round(misses / (hits + misses), 3) : 0,
    encodingRate: hits > 0 && num(xc?.bytes) > 0 ? round((hits * 4096) / num(xc?.bytes), 2) : 0,
    overflows: num(xc?.overflow),
    deltaVerdict: lm?.['delta-assessment']?.verdict ?? '-',
    deltaGain: num(lm?.['delta-assessment']?.gain),
    deltaDisabledAtPass: num(r['deltaDisabledAtPass']),
    senderCpuMs: Math.round(num(r['senderCpuMs'])),
    receiverCpuMs: Math.round(num(d['receiverCpuMs'])),
    guestCpuMs: Math.round(num(r['vcpuCpuMs'])),
    workRate: { before: Math.round(num(r['workRateBefore'])), during: Math.round(during), after: Math.round(num(d['workRateAfter'])) },
    throttleMax: num(lm?.['auto-converge']?.['max-cpu-throttle-reached']),
    digestsMatch: typeof d['digest'] === 'string' && d['digest'] === lm?.['ram-digest'],
    passRecords: passes,
  };
  const err = r['error'] ?? d['error'];
  if (typeof err === 'string') res.error = err;
  return res;
}

function failed(spec: RunSpec, error: string): RunResult {
  return {
    spec,
    status: 'error',
    error,
    converged: false,
    forced: false,
    totalMs: 0,
    downtimeMs: 0,
    guestDowntimeMs: null,
    verifyMs: 0,
    resumeMs: 0,
    netDowntimeMs: 0,
    downtimeParts: { pauseMs: 0, sendMs: 0, digestMs: 0, confirmMs: 0 },
    setupMs: 0,
    passes: 0,
    bytes: { total: 0, zero: 0, normal: 0, delta: 0, stopAndCopy: 0 },
    pages: { zero: 0, normal: 0, delta: 0, unchanged: 0 },
    cacheBytes: 0,
    cacheMissRate: 0,
    encodingRate: 0,
    overflows: 0,
    deltaVerdict: '-',
    deltaGain: 0,
    deltaDisabledAtPass: 0,
    senderCpuMs: 0,
    receiverCpuMs: 0,
    guestCpuMs: 0,
    workRate: { before: 0, during: 0, after: 0 },
    throttleMax: 0,
    digestsMatch: false,
    passRecords: [],
  };
}

function round(v: number, d: number): number {
  if (!Number.isFinite(v)) return 0;
  const f = 10 ** d;
  return Math.round(v * f) / f;
}
