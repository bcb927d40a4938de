/**
 * One outgoing migration (QEMU's migration thread, in the event loop): setup, iterate under
 * a rate limit until what is left fits the downtime limit, stop-and-copy, and completion,
 * failure or cancel. On failure or cancel the source guest runs on with its memory intact.
 *
 * Convergence uses what the stop-and-copy would really cost: each dirty page priced by its fate
 * (zero record, delta as it encodes now, or whole; RamSender.priceRemaining), over the
 * bandwidth the final stage will get (unthrottled, or the simulated link), plus the measured
 * fixed costs of the pause, device state and check (downtime-estimate.ts); not pages × 4 KiB
 * over the throttled bandwidth as QEMU does.
 *
 * Under pressure: with `auto-converge`, the guest's vCPUs are throttled step by step while it
 * dirties faster than the link drains (`auto-converge.ts`), and the throttle is lifted when the
 * migration ends; delta compression is judged window by window (`delta-guard.ts`) and, with
 * `auto-xbzrle`, switched off for the rest of the migration when it does not pay.
 */
import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { LivemigError } from '../errors.js';
import { createRamDigester } from '../hash.js';
import type { RamDigester } from '../hash.js';
import { PAGE_SIZE_BYTES, selectedKernel } from '../codec/index.js';
import { RamHasher, chunkCountOf, inPlaceHashers } from '../guest/index.js';
import { CHUNK_PAGES, chunkDigests, rootDigest } from '../codec/page-hash128.js';
import { describeMismatch, namePages } from './verification.js';
import type { VerificationResult } from './verification.js';
import type { VirtualMachine } from '../guest/index.js';
import { openOutgoing } from '../transport/index.js';
import { LIVEMIG_MACHINE_NAME } from '../stream/index.js';
import type { Channel, OutgoingOptions } from '../transport/index.js';
import { OutgoingStream, RAM_SECTION_ID } from './outgoing-stream.js';
import { DEFAULT_CAPABILITIES, DEFAULT_PARAMETERS } from './parameters.js';
import type { MigrationCapabilities, MigrationParameters } from './parameters.js';
import { LinkPacer, RateLimiter } from './rate-limiter.js';
import { RamSender } from './ram-sender.js';
import { readReply } from './return-path.js';
import type { DestinationReply } from './return-path.js';
import { assertTransition, isActive } from './state.js';
import type { MigrationStatus } from './state.js';
import { MigrationCounters } from './stats.js';
import { diffCounters, snapshotCounters } from './counters.js';
import type { CountersDiff, CountersSnapshot } from './counters.js';
import { migrationInfo } from './info.js';
import { PassTelemetry } from './telemetry.js';
import { AUTO_CONVERGE_SYNC_MS, AutoConverge } from './auto-converge.js';
import { predictedNextBytes, Settling } from './settle.js';
import { FLUSH_BYTES, sendStopAndCopyPages } from './stop-and-copy.js';
import { DowntimeEstimate, learnFixedCosts } from './downtime-estimate.js';
import { DeltaGuard, describeAssessment } from './delta-guard.js';
import type { DeltaAssessment } from './delta-guard.js';
import type { PassRecord } from './telemetry.js';
import type { MigrationInfo } from './stats.js';

/** The machine section's digest when `verify` is off: the destination then expects none. */
const NO_DIGEST = 'none';
/** Pages a slice of a dirty-log scan covers when the guest runs on this thread (16 MiB: ~1-3 ms compared). */
const SCAN_SLICE_PAGES = 4096;
/** QEMU's ram_save_iterate stops a batch after 50 ms. */
const MAX_BATCH_MS = 50;
/** QEMU's bandwidth window (migration_update_counters). */
const UPDATE_MS = 100;
/** QEMU's rate period: dirty-pages-rate, cache-miss-rate and encoding-rate over >= 1 s, closed at a sync. */
const RATE_PERIOD_MS = 1000;
const debug = debuglog('livemig');

export interface OutgoingMigrationOptions {
  /** The machine to migrate. */
  guest: VirtualMachine;
  parameters?: Partial<MigrationParameters>;
  capabilities?: Partial<MigrationCapabilities>;
  /** Milliseconds to wait for the destination's confirmation (default 60 s). */
  replyTimeoutMs?: number;
  /** Passes after which the migration switches over anyway (0 = never; livemig's stall guard). */
  maxPasses?: number;
  /** Transport options: TLS credentials (tls:, or tcp: as QEMU's tls-creds) and stall timeouts. */
  transport?: Omit<OutgoingOptions, 'signal'>;
  /**
   * A RAM digest worker already started for this guest's memory (the SourceManager's), used and
   * left running. Without it the migration starts its own at setup when the RAM is shared
   * memory (else it hashes on this thread), and closes it at the end; `null`: it hashes on this
   * thread (a small guest, not worth a worker's start-up).
   */
  hasher?: RamHasher | null;
  /**
   * @internal Bytes a batch of the iterate stage holds before it is flushed (default 1 MiB):
   * the engine's warm-up sends a page a batch, so that the per-batch paths run often.
   */
  flushBytes?: number;
  /**
   * @internal Fold this migration's measured fixed costs (pause, check, confirmation) into the
   * estimates later migrations in this process start from (default true). The warm-up's 4 MiB
   * machine, hashed on the main thread, would teach a first real migration a check ~10 times
   * too dear per MiB, and with it a lower switchover threshold.
   */
  learnCosts?: boolean;
}

export interface MigrationEvents {
  status: [MigrationStatus];
  /** A pass starts: its number, 1, 2, 3, ... (the stop-and-copy continues the last one). */
  pass: [number];
  /** One record per finished pass (the last one is stop-and-copy). */
  'pass-end': [PassRecord];
  progress: [MigrationInfo];
  /** Auto-converge raised the vCPU throttle to this percent. */
  throttle: [number];
  /** A window of delta compression was judged (see delta-guard.ts). */
  'delta-assessment': [DeltaAssessment];
  /**
   * The RAM check found pages that differ after the destination had resumed (`verify
   * after-resume`): the guest runs on the destination with RAM that is not the source's.
   * (Under before-resume a mismatch fails the migration instead.)
   */
  'verification-failed': [VerificationResult];
}

export class OutgoingMigration extends EventEmitter<MigrationEvents> {
  status: MigrationStatus = 'none';
  readonly counters = new MigrationCounters();
  readonly parameters: MigrationParameters;
  readonly capabilities: MigrationCapabilities;
  error: Error | undefined;
  ramDigest: string | undefined;
  destinationDigest: string | undefined;
  /** The RAM check's outcome, once the destination answered (undefined with verify off). */
  verification: VerificationResult | undefined;
  /** page128: the chunk digests of the paused RAM (4 lanes a chunk), sent before the digest. */
  private chunkTable: Int32Array | undefined;
  /** performance.now() when the destination said it resumed (after-resume only). */
  private resumedAt: number | undefined;
  private onResumed: () => void = () => undefined;
  /** Resolves when the destination says it resumed the guest (after-resume). */
  private readonly resumed = new Promise<void>((resolve) => (this.onResumed = resolve));
  private readonly guest: VirtualMachine;
  /** The RAM digest's algorithm, loaded at setup (hashing here when no worker can read the RAM). */
  private digester: RamDigester | undefined;
  /** Longest stretch of work between two turns of the event loop (shorter when the guest runs on it). */
  private readonly sliceMs: number;
  private readonly abort = new AbortController();
  private ram: RamSender | undefined;
  /** Hashes the RAM on a worker at switchover (started at setup: a worker takes a while to start). */
  private hasher: RamHasher | undefined;
  /** The caller's digest worker (never closed here), if any. */
  private readonly sharedHasher: RamHasher | null | undefined;
  private readonly flushBytes: number;
  /** The most a batch writes (the warm-up's small batches; else as the limiter allows). */
  private readonly batchMaxBytes: number;
  private readonly learnCosts: boolean;
  private channel: Channel | undefined;
  /** The stream, once open: a failure still counts what was written to it (see fail). */
  private out: OutgoingStream | undefined;
  private startTime = 0;
  private endTime = 0;
  private setupTime = 0;
  private downtime = 0;
  private pausedByUs = false;
  /** The switchover was forced by the stall policy, not reached by convergence. */
  forced = false;
  private thresholdBytes = 0;
  private windowStart = 0;
  /**
   * The counters at the bandwidth window's start, dated back by the limiter's credit then
   * (in ms at its limit; see updateWindow).
   */
  private windowMark: CountersSnapshot | undefined;
  private windowLimit = 0;
  /** The last bandwidth window: throughput and pages per second. */
  private window: CountersDiff | undefined;
  /** The counters at the start of the rate period (>= 1 s, closed at a sync). */
  private periodMark: CountersSnapshot | undefined;
  /** The last rate period: dirty-pages-rate, cache-miss-rate, encoding-rate. */
  private period: CountersDiff | undefined;
  private readonly maxPasses: number;
  private readonly replyTimeoutMs: number;
  private readonly transport: Omit<OutgoingOptions, 'signal'>;
  /** The destination's reason, when it rejected the stream before the end (return path). */
  private destinationError: string | undefined;
  private readonly limiter: RateLimiter;
  private telemetry: PassTelemetry | undefined;
  /** Every pass record of this migration, in order. */
  readonly passes: PassRecord[] = [];
  /** With the auto-converge capability: the throttle controller (its steps, the throttle now). */
  autoConverge: AutoConverge | undefined;
  /** Judges whether delta compression pays (its `last` judgement). */
  readonly deltaGuard = new DeltaGuard(this.counters);
  /** The pass in which auto-xbzrle switched delta compression off (0 = it did not). */
  deltaDisabledAtPass = 0;
  /**
   * Wall-clock ms (performance.timeOrigin + now) of the guest's last write before the
   * switchover paused it (0 for a guest that never wrote). With the destination's first write
   * time, it gives the downtime the guest saw.
   */
  guestLastStepWallMs = 0;
  /**
   * Where a completed migration's downtime went: stopping the vCPUs, sending what was left
   * (RAM, device state), the source's RAM digest, and the destination's confirmation (its
   * digest check and the guest's resume). The first two are what QEMU's downtime consists of.
   */
  downtimeParts: { pauseMs: number; sendMs: number; digestMs: number; confirmMs: number } | undefined;
  /** The expected downtime when the iterate stage ended (what the switchover was decided on). */
  expectedAtSwitchoverMs: number | undefined;
  private estimate: DowntimeEstimate | undefined;
  /** The check's calibration run on the digest workers, while it runs (see calibrateCheck). */
  private calibrating: Promise<void> | undefined;
  /** The stop-and-copy's pass record, emitted once the downtime is known (or the migration failed). */
  private finalPass: PassRecord | undefined;
  private lastSyncAt = 0;
  /** Deferred switchovers while one more pass pays (settle.ts). */
  private readonly settling = new Settling();
  private throttleBefore = 0;
  private workStart = { work: 0, t: 0 };
  private workStop: { work: number; t: number } | undefined;
  private passWork = { work: 0, t: 0 };

  constructor(options: OutgoingMigrationOptions) {
    super();
    this.guest = options.guest;
    this.sliceMs = Math.min(MAX_BATCH_MS, options.guest.eventLoop?.sliceMs ?? MAX_BATCH_MS);
    this.parameters = { ...DEFAULT_PARAMETERS, ...options.parameters };
    this.capabilities = { ...DEFAULT_CAPABILITIES, ...options.capabilities };
    this.maxPasses = options.maxPasses ?? 0;
    this.replyTimeoutMs = options.replyTimeoutMs ?? 60_000;
    this.transport = options.transport ?? {};
    this.sharedHasher = options.hasher;
    this.flushBytes = options.flushBytes ?? FLUSH_BYTES;
    this.batchMaxBytes = options.flushBytes ?? Infinity;
    this.learnCosts = options.learnCosts ?? true;
    this.limiter = new RateLimiter(this.parameters['max-bandwidth']);
  }

  /** Changes the bandwidth limit of a running migration (takes effect at the next batch). */
  setMaxBandwidth(bytesPerSecond: number): void {
    this.parameters['max-bandwidth'] = bytesPerSecond;
    this.limiter.setRate(bytesPerSecond);
  }

  setDowntimeLimit(ms: number): void {
    this.parameters['downtime-limit'] = ms;
  }

  get active(): boolean {
    return isActive(this.status);
  }

  /** Stops the migration; the source guest keeps running. */
  cancel(): void {
    if (!this.active || this.status === 'cancelling') return;
    this.transition('cancelling');
    this.abort.abort();
    this.channel?.destroy(new LivemigError('MIGRATION_STATE', 'migration cancelled'));
  }

  /** Runs the migration to its end. Never rejects: the outcome is in `status` and `error`. */
  async run(uri: string): Promise<MigrationStatus> {
    this.startTime = performance.now();
    this.transition('setup');
    const delta = this.capabilities.xbzrle ? this.parameters['delta-codec'] : null;
    try {
      this.ram = new RamSender(this.guest.memory, this.guest.dirtyLog, {
        delta,
        cacheSizeBytes: this.parameters['xbzrle-cache-size'],
        cacheWays: this.parameters['cache-ways'],
      }, this.counters);
      this.hasher = this.sharedHasher === null ? undefined : this.sharedHasher ?? (RamHasher.canHash(this.guest.memory) ? RamHasher.start(this.guest.memory) : undefined);
      const channel = (this.channel = await openOutgoing(uri, { ...this.transport, signal: this.abort.signal }));
      this.checkCancelled();
      // a QEMU-shaped stream goes to QEMU (or a file), which sends no reply
      const reply = channel.hasReturnPath && channel.input && this.parameters['machine-type'] === LIVEMIG_MACHINE_NAME
        ? readReply(channel.input, 24 * 3600 * 1000, this.abort.signal, () => {
            this.resumedAt ??= performance.now();
            this.onResumed();
          })
        : undefined;
      reply?.catch(() => undefined); // observed below; a cancel must not leave it unhandled
      // A destination that rejects the stream says why on the return path while we still send:
      // stop at once and report its reason (not the reset that follows).
      reply?.then((r) => {
        if (r.status === 'failed' && this.active && this.status !== 'cancelling' && this.status !== 'completed') {
          this.destinationError = r.error ?? 'no reason given';
          this.abort.abort();
          this.channel?.destroy(new LivemigError('MIGRATION_FAILED', `destination failed: ${this.destinationError}`));
        }
      }, () => undefined);
      const link = this.parameters['link-bandwidth'] > 0 ? new LinkPacer(this.parameters['link-bandwidth']) : undefined;
      const out = (this.out = new OutgoingStream(link ? async (chunk, release) => { await link.wait(chunk.length); await channel.write(chunk, release); } : (chunk, release) => channel.write(chunk, release), this.parameters['machine-type'], this.guest.memory));
      out.header();
      const algorithm = this.parameters['digest-algorithm'];
      // loaded now: the digest is taken inside the downtime
      if (this.verifying) this.digester = await createRamDigester(algorithm);
      this.estimate = new DowntimeEstimate({
        ramBytes: this.guest.memory.totalBytes,
        linkBytesPerSecond: this.parameters['link-bandwidth'],
        // after-resume: the check is outside the downtime, which then costs what verify off does
        check: this.checkInDowntime ? algorithm : NO_DIGEST,
        seed: { pauseMs: SEED_PAUSE_MS, confirmMs: SEED_CONFIRM_MS, checkMsPerMiB: !this.checkInDowntime || !this.digester ? 0 : algorithm === 'page128' ? timePage128(this.guest.memory) : timeDigest(this.digester, this.guest.memory.blocks[0]!.bytes) },
      });
      this.calibrateCheck(algorithm);
      out.machine(this.guest.kind, this.guest.machineConfig(), this.verifying ? algorithm : NO_DIGEST, this.parameters.verify === 'after-resume');
      this.ram.setup();
      out.ramSetup(this.guest.memory);
      await out.flush();
      this.account(out);
      this.setupTime = performance.now() - this.startTime;
      this.transition('active');
      const now = performance.now();
      this.lastSyncAt = now;
      this.workStart = this.passWork = { work: this.workDone(), t: now };
      this.throttleBefore = this.guest.throttlePercent ?? 0;
      const start = snapshotCounters(this.counters, now);
      this.periodMark = start;
      if (this.capabilities['auto-converge']) this.autoConverge = new AutoConverge(this.parameters, start);
      this.telemetry = new PassTelemetry(this.startTime, start);
      this.emit('pass', this.telemetry.begin(this.guest.memory.pageCount, start));
      await this.iterate(out);
      this.expectedAtSwitchoverMs = Math.round(this.counters.expectedDowntimeMs);
      await this.complete(out, channel, reply);
    } catch (e) {
      await this.fail(e);
    } finally {
      // what was left stays in info() after a cancel or a failure
      this.remainingAtEnd = this.ram?.remaining ?? 0;
      this.ram?.dispose();
      this.ram = undefined;
      if (this.hasher !== this.sharedHasher) void this.hasher?.close();
      this.hasher = undefined;
    }
    return this.status;
  }

  private async iterate(out: OutgoingStream): Promise<void> {
    const ram = this.ram!;
    this.startWindow(performance.now());
    let batchStart = 0;
    // one closure for every batch: a new one each call deoptimized sendPages ("wrong call target")
    const sliceMs = this.sliceMs;
    const flushBytes = this.flushBytes;
    // a stream that failed takes no more records: no page is counted that went nowhere
    const stop = (): boolean => out.buffered >= flushBytes || performance.now() - batchStart > sliceMs || this.abort.signal.aborted || out.failed;
    // a machine on this thread's event loop may ask for a longer turn than flush()'s between batches
    const loop = this.guest.eventLoop;
    const guestTurn = loop?.turn ? () => loop.turn!() : undefined;
    for (;;) {
      this.checkCancelled();
      // a window ends only where the limiter is owed nothing (see updateWindow)
      if (this.limiter.allowance() > 0) this.updateWindow(false);
      let pending = ram.remaining * ram.bytesPerPendingPage;
      // a deferred switchover waits for its pass to end (see settle.ts)
      if ((pending < this.thresholdBytes && !this.settling.active) || ram.remaining === 0 || this.syncDue()) {
        const leftover = ram.remaining;
        const sinceSync = performance.now() - this.lastSyncAt;
        this.endPass('iterate', leftover);
        // a guest on this thread runs between the slices of a long scan
        const added = this.guest.eventLoop ? await ram.syncSliced(SCAN_SLICE_PAGES, guestTurn ?? nextTurn) : ram.sync();
        this.estimate!.noteSync(ram.lastSyncWorkMs);
        const synced = snapshotCounters(this.counters, performance.now());
        const pass = this.telemetry!.begin(added, synced);
        ram.settleCost();
        this.afterSync(synced, pass);
        this.emit('pass', pass);
        // each dirty page priced by its fate (in the cache: a delta; not: whole)
        pending = ram.priceRemaining();
        this.counters.expectedDowntimeMs = this.expectedDowntime(pending);
        this.thresholdBytes = this.estimate!.thresholdBytes(this.parameters['downtime-limit'], this.counters.bandwidthBytesPerMs);
        debug('pass %d: %d dirty pages priced %d bytes, final stage %d bytes/ms, fixed costs %d ms: expected downtime %d ms', this.counters.dirtySyncCount, ram.remaining, Math.round(pending), Math.round(this.estimate!.finalBandwidth(this.counters.bandwidthBytesPerMs)), Math.round(this.estimate!.fixedMs), this.counters.expectedDowntimeMs);
        if (pending <= this.thresholdBytes) {
          const settle = {
            pendingBytes: pending,
            dirtiedPages: added,
            intervalMs: sinceSync,
            bytesPerDirtyPage: ram.bytesPerRedirtiedPage,
            iterateBytesPerMs: this.counters.bandwidthBytesPerMs,
            finalBytesPerMs: this.estimate!.finalBandwidth(this.counters.bandwidthBytesPerMs),
            passOverheadMs: ram.lastSyncWorkMs,
          };
          if (!this.settling.defer(settle)) return;
          debug('pass %d fits the limit; another pass first, expected to leave %d bytes', this.counters.dirtySyncCount, Math.round(predictedNextBytes(settle)));
        } else this.settling.reset();
        if (this.maxPasses > 0 && this.counters.dirtySyncCount >= this.maxPasses) return;
        // a deferral fits the limit already: out of time, it switches over without being forced
        if (this.settling.active && this.stalled()) return;
        if (this.stalled()) {
          if (this.parameters['stall-policy'] === 'cancel') throw new LivemigError('MIGRATION_FAILED', `did not converge within ${this.stallLimitText()}; stall-policy cancel`);
          this.forced = true;
          return;
        }
      }
      const allowance = this.limiter.allowance();
      if (allowance === 0) {
        await sleep(Math.max(1, Math.ceil(this.limiter.msUntilAllowed())), undefined, { signal: this.abort.signal }).catch(() => undefined);
        continue;
      }
      batchStart = performance.now();
      const before = out.bytesWritten;
      out.sectionPart(RAM_SECTION_ID);
      ram.sendPages(out.ram, stop, false, Math.min(allowance, this.batchMaxBytes));
      out.ramEos();
      out.footer(RAM_SECTION_ID);
      // counted as written to the stream, before the flush: the counters agree while it waits
      this.account(out);
      await out.flush();
      // the batch's own time, without the limiter's waits or the turn flush() gave the event loop
      // (where a machine on this thread ran; paused, it takes none in the final stage)
      this.estimate!.noteBatch(out.bytesWritten - before, out.flushedAt - batchStart);
      // charged once the socket has every byte: a byte on the wire is never older than its charge
      this.limiter.account(out.bytesWritten - before);
      this.account(out);
      if (ram.deltaStarted) this.judgeDelta(this.deltaGuard.poll(this.pass, performance.now()));
      if (guestTurn) await guestTurn();
    }
  }

  /** QEMU 9.2: with auto-converge, a sync (and a throttle decision) at least every 5 s. */
  private syncDue(): boolean {
    return this.autoConverge !== undefined && performance.now() - this.lastSyncAt >= AUTO_CONVERGE_SYNC_MS;
  }

  /** After a dirty-log sync in the iterate stage: auto-converge's decision, delta's judgement. */
  private afterSync(synced: CountersSnapshot, pass: number): void {
    const now = synced.t;
    this.lastSyncAt = now;
    const ram = this.ram!;
    if (now - this.periodMark!.t >= RATE_PERIOD_MS) {
      this.period = diffCounters(this.periodMark!, synced);
      this.periodMark = synced;
    }
    const p = this.autoConverge?.onSync(synced, ram.bytesPerDirtyPage, pass, now - this.startTime);
    if (p !== undefined && this.guest.status !== 'stopped' && this.guest.throttle !== undefined) {
      this.guest.throttle(p);
      debug('auto-converge: pass %d, vCPU throttle %d %%', pass, p);
      this.emit('throttle', p);
    }
    this.judgeDelta(this.deltaGuard.onSync(ram.deltaStarted, pass, now));
  }

  private judgeDelta(a: DeltaAssessment | undefined): void {
    if (!a) return;
    debug('%s', describeAssessment(a));
    this.emit('delta-assessment', a);
    if (a.verdict === 'hurts' && this.capabilities['auto-xbzrle'] && this.ram && !this.ram.deltaDisabled) {
      this.ram.disableDelta();
      this.deltaDisabledAtPass = a.pass;
      debug('auto-xbzrle: delta compression off for the rest of the migration');
    }
  }

  /**
   * The digest of the paused guest's RAM on the hasher's worker, started now; undefined without
   * a worker (the RAM is hashed here once everything is sent, see {@link hashHere}). Never
   * rejects unhandled (a cancel may leave it unawaited).
   */
  private digestFrozenRam(): Promise<string> | undefined {
    if (this.hasher === undefined) return undefined;
    const algorithm = this.parameters['digest-algorithm'];
    const hasher = this.hasher;
    const job =
      algorithm === 'page128'
        ? hasher.chunks().then((t) => {
            this.chunkTable = t.slice();
            return rootDigest(this.chunkTable, hasher.chunkCount);
          })
        : hasher.digest(algorithm);
    const p = job.catch((e: unknown) => {
      debug('RAM digest worker failed (%s); hashing on the main thread', e instanceof Error ? e.message : String(e));
      return this.hashHere();
    });
    p.catch(() => undefined);
    return p;
  }

  private hashHere(): string {
    if (this.abort.signal.aborted) return '';
    const memory = this.guest.memory;
    if (this.parameters['digest-algorithm'] !== 'page128') return memory.digestWith(this.digester!);
    // in place where the RAM is a WebAssembly.Memory, else the TypeScript reference
    const count = chunkCountOf(memory);
    const table = (this.chunkTable = new Int32Array(count * 4));
    chunkDigests(memory.blocks.map((b) => b.bytes), inPlaceHashers(memory), 0, count, table);
    return rootDigest(table, count);
  }

  /**
   * With page128 on the digest workers and nothing learned yet for it in this process, the
   * check's seed is a real run of the workers over a sample of the running guest's RAM (its
   * values are thrown away), off this thread: the main-thread timing says little of them.
   */
  private calibrateCheck(algorithm: string): void {
    const hasher = this.hasher;
    const estimate = this.estimate!;
    if (!this.checkInDowntime || algorithm !== 'page128' || hasher === undefined || estimate.learned) return;
    // a sample, not all of RAM: the workers share the cores with the first pass
    const chunkBytes = CHUNK_PAGES * PAGE_SIZE_BYTES;
    const sample = Math.min(hasher.chunkCount, Math.ceil(CALIBRATION_BYTES / chunkBytes));
    const sampleMiB = Math.min(sample * chunkBytes, this.guest.memory.totalBytes) / (1 << 20);
    // timed from when the workers wait for work: their start-up (tens of ms) is paid once, not per MiB
    this.calibrating = hasher.ready
      .then(() => {
        const t = performance.now();
        return hasher.chunks(sample).then(() => estimate.calibrateCheck((performance.now() - t) / sampleMiB));
      })
      .catch(() => undefined); // the switchover's own run reports a failing worker
  }

  /** Lifts auto-converge's throttle (QEMU stops it when the migration ends). */
  private restoreThrottle(): void {
    if (this.autoConverge && this.autoConverge.percent > 0 && this.guest.status !== 'stopped') this.guest.throttle?.(this.throttleBefore);
  }

  private async complete(out: OutgoingStream, channel: Channel, reply: Promise<DestinationReply> | undefined): Promise<void> {
    const ram = this.ram!;
    this.transition('device');
    const downtimeStart = performance.now();
    this.workStop = { work: this.workDone(), t: downtimeStart };
    this.pausedByUs = this.guest.status === 'running';
    if (this.pausedByUs) await this.guest.pause();
    const pausedAt = performance.now();
    this.guestLastStepWallMs = this.guest.lastStepWallMs?.() ?? 0;
    this.restoreThrottle();
    this.checkCancelled();
    // the workers hash one table at a time: a calibration still running ends first
    await this.calibrating;
    // RAM is frozen from here (and stays so: after a switchover the source remains paused). Its
    // digest is computed on workers while the last pages go out; with after-resume, once the
    // destination runs the guest, so that the hashing threads do not compete with the
    // destination's last steps where both share a machine.
    const deferHash = this.parameters.verify === 'after-resume' && reply !== undefined;
    let digesting = this.verifying && !deferHash ? this.digestFrozenRam() : undefined;
    // the pages dirtied since the sync that ended iterating join that pass: it becomes the
    // stop-and-copy pass (QEMU counts this last sync too)
    const tSync0 = performance.now();
    this.telemetry!.addDirty(ram.sync());
    const tSync1 = performance.now();
    out.sectionEnd(RAM_SECTION_ID);
    const before = out.bytesWritten;
    await sendStopAndCopyPages(ram, out, this.counters, {
      beforeBatch: () => this.checkCancelled(),
      afterBatch: () => this.account(out),
      halted: () => this.abort.signal.aborted,
    });
    out.ramEos();
    out.footer(RAM_SECTION_ID);
    const tSent = performance.now();
    out.deviceState(await this.guest.deviceState());
    const deviceMs = performance.now() - tSent;
    debug('stop-and-copy: sync %d ms, pages %d ms, device state %d ms', Math.round(tSync1 - tSync0), Math.round(tSent - tSync1), Math.round(performance.now() - tSent));
    this.checkCancelled();
    // out before waiting for the digest: the destination starts hashing its RAM at the END
    await out.flush();
    const digestStart = performance.now();
    if (this.verifying && deferHash) {
      await Promise.race([this.resumed, reply!.then(() => undefined, () => undefined)]);
      this.checkCancelled();
      digesting = this.digestFrozenRam();
    }
    if (this.verifying) {
      this.ramDigest = digesting === undefined ? this.hashHere() : await digesting;
      this.checkCancelled();
    }
    /** Time spent waiting for the digest once everything else was sent. */
    const digestMs = performance.now() - digestStart;
    if (this.ramDigest !== undefined) {
      if (this.chunkTable !== undefined) out.digestChunks(new Uint8Array(this.chunkTable.buffer, this.chunkTable.byteOffset, this.chunkTable.byteLength));
      out.digest(this.parameters['digest-algorithm'], Buffer.from(this.ramDigest, 'hex'));
    }
    out.eof();
    out.vmdesc();
    await out.flush();
    this.counters.downtimeBytes += out.bytesWritten - before;
    this.account(out);
    this.finalPass = this.endPass('stop-and-copy', 0, false);
    const sentAt = performance.now();
    await channel.end();
    if (reply) {
      const r = await withTimeout(reply, this.replyTimeoutMs);
      const mode = this.parameters.verify === 'after-resume' ? 'after-resume' : 'before-resume';
      const algorithm = this.parameters['digest-algorithm'];
      // the source's RAM is still paused: the pages of the chunks that differ can be named
      const mismatch = (): VerificationResult => ({
        mode,
        algorithm,
        result: 'mismatch',
        ...(r.mismatch ? { chunks: r.mismatch.chunks.map((c) => c.chunk), chunkCount: r.mismatch.chunkCount, pages: namePages(this.guest.memory, r.mismatch) } : {}),
      });
      if (r.status !== 'completed') {
        if (r.mismatch === undefined) throw new LivemigError('MIGRATION_FAILED', `destination failed: ${r.error ?? 'no reason given'}`);
        this.verification = mismatch();
        throw new LivemigError('DIGEST_MISMATCH', `destination failed: ${describeMismatch(this.verification)}`);
      }
      this.destinationDigest = r.digest;
      if (this.verifying) {
        if (r.digest === this.ramDigest) this.verification = { mode, algorithm, result: 'matched' };
        else if (this.resumedAt === undefined) throw new LivemigError('DIGEST_MISMATCH', `destination RAM digest ${r.digest} differs from the source's ${this.ramDigest}`);
        else {
          // the guest already runs on the destination: completed, and said loudly
          this.verification = mismatch();
          debug('%s', describeMismatch(this.verification));
          this.emit('verification-failed', this.verification);
        }
      }
    }
    this.endTime = performance.now();
    // after-resume: the downtime ended when the destination resumed, not when its check did
    this.downtime = (this.resumedAt ?? this.endTime) - downtimeStart;
    this.downtimeParts =
      this.resumedAt !== undefined
        ? { pauseMs: pausedAt - downtimeStart, sendMs: this.resumedAt - pausedAt, digestMs: 0, confirmMs: 0 }
        : { pauseMs: pausedAt - downtimeStart, sendMs: sentAt - pausedAt - digestMs, digestMs, confirmMs: this.endTime - sentAt };
    if (this.learnCosts) learnFixedCosts(this.checkInDowntime ? this.parameters['digest-algorithm'] : NO_DIGEST, {
      pauseMs: pausedAt - downtimeStart + deviceMs,
      confirmMs: 0,
      checkMsPerMiB: (digestMs + this.downtimeParts.confirmMs) / (this.guest.memory.totalBytes / (1 << 20)),
    });
    this.counters.expectedDowntimeMs = 0;
    this.emitFinalPass(this.downtime);
    this.transition('completed');
    this.pausedByUs = false; // the guest now runs on the destination; the source stays paused (QEMU's postmigrate)
  }

  private async fail(e: unknown): Promise<void> {
    this.endTime = performance.now();
    this.channel?.destroy();
    // the last batch's records are counted (normal, duplicate, xbzrle) whether or not its flush
    // went through: `transferred` counts every byte written to the stream, as QEMU's does
    if (this.out) this.account(this.out);
    const cancelled = this.status === 'cancelling';
    this.error = e instanceof Error ? e : new Error(String(e));
    if (this.destinationError !== undefined && !cancelled && !(e instanceof LivemigError && e.message.startsWith('destination failed: '))) {
      this.error = new LivemigError('MIGRATION_FAILED', `destination failed: ${this.destinationError}`, { cause: e });
    }
    this.workStop ??= { work: this.workDone(), t: this.endTime };
    this.emitFinalPass(undefined);
    this.restoreThrottle();
    if (this.pausedByUs) {
      this.guest.resume();
      this.pausedByUs = false;
    }
    if (cancelled) this.transition('cancelled');
    else if (this.status !== 'failed') this.transition('failed');
  }

  /**
   * Ends the current pass; its record is emitted at once, or (`emit` false: the stop-and-copy)
   * by {@link emitFinalPass} once the downtime is known.
   */
  private endPass(stage: PassRecord['stage'], remainingPages: number, emit = true): PassRecord | undefined {
    if (!this.telemetry) return undefined;
    const now = performance.now();
    const r = this.telemetry.end(snapshotCounters(this.counters, now), stage, remainingPages, this.counters.expectedDowntimeMs);
    const work = this.workDone();
    r.throttlePercent = this.guest.throttlePercent ?? 0;
    r.guestWorkRate = now > this.passWork.t ? Math.round(((work - this.passWork.work) * 1000) / (now - this.passWork.t)) : 0;
    this.passWork = { work, t: now };
    if (emit) {
      this.passes.push(r);
      this.emit('pass-end', r);
    }
    return r;
  }

  /** The stop-and-copy's record, with the expected downtime it was decided on and the actual one. */
  private emitFinalPass(downtimeMs: number | undefined): void {
    const r = this.finalPass;
    if (!r) return;
    this.finalPass = undefined;
    if (this.expectedAtSwitchoverMs !== undefined) r.expectedDowntimeMs = this.expectedAtSwitchoverMs;
    if (downtimeMs !== undefined) r.downtimeMs = Math.round(downtimeMs);
    this.passes.push(r);
    this.emit('pass-end', r);
  }

  /** Dirty pages not sent when the migration ended (cancelled or failed; 0 once completed). */
  private remainingAtEnd = 0;

  /** True when the destination resumes only after the check (verify before-resume). */
  private get checkInDowntime(): boolean {
    return this.parameters.verify === 'before-resume';
  }

  /** False with `verify off`: no digest is taken or sent. */
  private get verifying(): boolean {
    return this.parameters.verify !== 'off';
  }

  /** The guest's work counter (0 for a machine that keeps none). */
  private workDone(): number {
    return this.guest.workDone?.() ?? 0;
  }

  /** True once max-iterations passes or max-time milliseconds of iterating are spent. */
  private stalled(): boolean {
    const p = this.parameters;
    if (p['max-iterations'] > 0 && this.counters.dirtySyncCount >= p['max-iterations']) return true;
    return p['max-time'] > 0 && performance.now() - this.startTime >= p['max-time'];
  }

  private stallLimitText(): string {
    const p = this.parameters;
    return [p['max-iterations'] > 0 ? `${p['max-iterations']} passes` : '', p['max-time'] > 0 ? `${p['max-time']} ms` : ''].filter(Boolean).join(' / ');
  }

  private checkCancelled(): void {
    if (this.abort.signal.aborted) throw new LivemigError('MIGRATION_STATE', 'migration cancelled');
  }

  private transition(to: MigrationStatus): void {
    assertTransition(this.status, to);
    this.status = to;
    this.emit('status', to);
  }

  private account(out: OutgoingStream): void {
    const delta = out.bytesWritten - this.counters.transferred;
    this.counters.transferred = out.bytesWritten;
    if (this.status !== 'device') this.counters.precopyBytes += delta;
  }

  /**
   * QEMU's migration_update_counters: bandwidth and threshold every >= 100 ms. Called where the
   * rate limiter is owed nothing, so no byte in the window is still to be paid for after it;
   * the window's first batch may have spent credit saved before the window began, and that
   * time counts too. Measured so, the bandwidth (hence the switchover threshold) never exceeds
   * max-bandwidth. A window in which the limit changed is dropped.
   */
  private updateWindow(force: boolean): void {
    const now = performance.now();
    if (now - this.windowStart < UPDATE_MS && !force) return;
    if (this.limiter.generation !== this.windowLimit) {
      this.startWindow(now);
      return;
    }
    const c = this.counters;
    const w = diffCounters(this.windowMark!, snapshotCounters(c, now));
    if (w.bytes.total > 0) c.bandwidthBytesPerMs = w.bytesPerSecond / 1000;
    this.thresholdBytes = this.estimate!.thresholdBytes(this.parameters['downtime-limit'], c.bandwidthBytesPerMs);
    this.window = w;
    if (this.ram && w.bytes.total > 10000) c.expectedDowntimeMs = this.expectedDowntime(this.ram.remaining * this.ram.bytesPerPendingPage);
    this.startWindow(now);
    this.emit('progress', this.info());
  }

  private startWindow(now: number): void {
    const rate = this.limiter.rate;
    this.windowStart = now;
    // the window's first batch may spend credit saved before it: that time counts too
    this.windowMark = snapshotCounters(this.counters, now - (rate > 0 ? (this.limiter.credit() * 1000) / rate : 0));
    this.windowLimit = this.limiter.generation;
  }

  /** The guest's page writes per second while it ran during this migration, when known. */
  private guestWorkRate(now: number): number | undefined {
    const stop = this.workStop ?? (this.status === 'active' ? { work: this.workDone(), t: now } : undefined);
    const ms = stop ? stop.t - this.workStart.t : 0;
    return stop && ms > 0 && this.workStart.t > 0 ? Math.round(((stop.work - this.workStart.work) * 1000) / ms) : undefined;
  }

  /** The pass running, or the last one (1, 2, 3, ...; 0 before the first). */
  get pass(): number {
    return this.telemetry?.current ?? 0;
  }

  private expectedDowntime(pendingBytes: number): number {
    const ms = this.estimate!.expectedMs(pendingBytes, this.counters.bandwidthBytesPerMs);
    return Number.isFinite(ms) ? Math.round(ms) : 0;
  }

  /** The migration in QEMU's query-migrate shape, plus livemig's fields (see info.ts). No NaN, ever. */
  info(): MigrationInfo {
    if (this.status === 'none') return {};
    const now = performance.now();
    const c = this.counters;
    return migrationInfo({
      status: this.status,
      now,
      startTime: this.startTime,
      endTime: this.endTime,
      setupTime: this.setupTime,
      downtime: this.downtime,
      counters: snapshotCounters(c, now),
      window: this.window,
      period: this.period,
      expectedDowntimeMs: c.expectedDowntimeMs,
      bytesPerDirtyPage: c.bytesPerDirtyPage,
      remainingPages: this.ram?.remaining ?? this.remainingAtEnd,
      totalBytes: this.guest.memory.totalBytes,
      pass: this.pass,
      parameters: this.parameters,
      capabilities: this.capabilities,
      forced: this.forced,
      error: this.error,
      kernel: selectedKernel().name,
      autoConverge: this.autoConverge,
      deltaAssessment: this.deltaGuard.last,
      deltaDisabledAtPass: this.deltaDisabledAtPass,
      guestWorkRate: this.guestWorkRate(now),
      downtimeParts: this.downtimeParts,
      expectedAtSwitchoverMs: this.expectedAtSwitchoverMs,
      ramDigest: this.ramDigest,
      destinationDigest: this.destinationDigest,
      verification: this.verification,
      transport: this.channel ? { description: this.channel.description, ...(this.channel.tls ? { tls: this.channel.tls } : {}) } : undefined,
    });
  }
}

/** Stopping a guest and taking its device state, before any migration has measured it. */
const SEED_PAUSE_MS = 2;
/** The confirmation's round trip and the destination's resume, before any migration has measured it. */
const SEED_CONFIRM_MS = 5;
/** Bytes of RAM the digest workers hash at setup to seed the check's cost. */
const CALIBRATION_BYTES = 32 << 20;
/** Bytes of RAM timed to seed the check's cost. */
const SEED_DIGEST_BYTES = 4 << 20;

/**
 * Milliseconds `digester` takes per MiB, timed on the start of `bytes` (up to 4 MiB) after a
 * first call on 64 KiB (a WebAssembly hash's first call compiles it).
 */
function timeDigest(digester: RamDigester, bytes: Uint8Array): number {
  const n = Math.min(bytes.length, SEED_DIGEST_BYTES);
  if (n === 0) return 0;
  digester.digest([bytes.subarray(0, Math.min(n, 1 << 16))]);
  const t = performance.now();
  digester.digest([bytes.subarray(0, n)]);
  return (performance.now() - t) / (n / (1 << 20));
}

/**
 * Milliseconds per MiB of page128 as {@link OutgoingMigration.hashHere} takes it on this thread
 * (in place with SIMD where a block is a WebAssembly.Memory), timed on the first 4 MiB of RAM
 * after a first call on one chunk. Where the digest workers take it, calibrateCheck replaces it.
 */
function timePage128(memory: VirtualMachine['memory']): number {
  const blocks = memory.blocks.map((b) => b.bytes);
  const hashers = inPlaceHashers(memory);
  const count = Math.min(chunkCountOf(memory), Math.ceil(SEED_DIGEST_BYTES / (CHUNK_PAGES * PAGE_SIZE_BYTES)));
  if (count === 0) return 0;
  const table = new Int32Array(count * 4);
  chunkDigests(blocks, hashers, 0, 1, table);
  const t = performance.now();
  chunkDigests(blocks, hashers, 0, count, table);
  return (performance.now() - t) / (Math.min(count * CHUNK_PAGES * PAGE_SIZE_BYTES, memory.totalBytes) / (1 << 20));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new LivemigError('MIGRATION_FAILED', `no reply from the destination within ${ms} ms`)), ms);
    p.then((v) => {
      clearTimeout(t);
      resolve(v);
    }, (e: unknown) => {
      clearTimeout(t);
      reject(e instanceof Error ? e : new Error(String(e)));
    });
  });
}
