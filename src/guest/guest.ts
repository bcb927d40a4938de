import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { InvalidArgumentError, LivemigError } from '../errors.js';
import { CMD_PAUSE, CMD_RUN, CMD_STOP, ControlBlock } from './control-block.js';
import type { WorkerInit } from './control-block.js';
import { decodeDeviceState, encodeDeviceState } from './device-state.js';
import type { DirtyLog } from './dirty-log.js';
import type { ParkedVcpus } from './parked-vcpus.js';
import { ExplicitDirtyLog } from './explicit-dirty-log.js';
import { GuestMemory } from './guest-memory.js';
import { PRNG_STATE_WORDS, prngSeed } from './prng.js';
import { resolveRegion } from './region.js';
import type { RegionSpec, ResolvedRegion } from './region.js';
import { ScanningDirtyLog } from './scanning-dirty-log.js';
import type { VcpuPosition } from './vcpu-workload.js';
import { checkSeed, checkVcpus, checkWorkload, resolveWorkloadOptions, vcpuPageRange } from './workload-plan.js';
import type { ResolvedWorkloadOptions, WorkloadName, WorkloadOptions } from './workload-plan.js';
import type { VirtualMachine, VmStatus } from './vm.js';

/** Which dirty log a guest keeps: writers mark pages (`explicit`) or pages are compared (`scan`). */
export type DirtyLogKind = 'explicit' | 'scan';

/** What {@link Guest.start} runs. */
export interface GuestOptions {
  /** Shared RAM (made with `new GuestMemory(...)` or `GuestMemory.fromShared`). */
  memory: GuestMemory;
  workload: WorkloadName;
  /** Worker threads, one per vCPU (default 1, at most 64). */
  vcpus?: number;
  /** Seeds the random workload's generators (uint32, default 0). */
  seed?: number;
  /** The RAM the workload writes (default all of it). */
  region?: RegionSpec;
  /** Default `explicit`: workers mark pages. With `scan` they do not, and pages are compared. */
  dirtyLog?: DirtyLogKind;
  /** The workload's knobs (rate, hot set, frames, ...; see `WorkloadOptions`). They travel in the device state. */
  workloadOptions?: WorkloadOptions;
}

/** A guest's run state as callers see it (a pause in progress reads as `running`). */
export type GuestStatus = VmStatus;

/** The machine kind of livemig's synthetic guest. */
export const SYNTHETIC_KIND = 'synthetic';

type Phase = 'running' | 'pausing' | 'paused' | 'stopped';

interface Config {
  workload: WorkloadName;
  vcpus: number;
  seed: number;
  region: ResolvedRegion;
  options: ResolvedWorkloadOptions;
}

/** Atomics.waitAsync (ES2024; present in Node 20, absent from the ES2022 lib typings). */
type WaitAsync = (
  a: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

/** How long the main thread waits for acknowledgements before re-checking for dead vCPUs. */
const ACK_POLL_MS = 20;

/**
 * A running guest: shared RAM, a dirty log, and one worker thread per vCPU running a synthetic
 * workload on that RAM, so the guest really runs while the main thread migrates it.
 *
 * Lifecycle: `start` (or `resumeFrom` on a destination) → running ⇄ paused (`pause`/`resume`)
 * → stopped (`stop`, idempotent). Stop every guest you start: a running vCPU keeps the process
 * alive, as a running VM would.
 */
export class Guest extends EventEmitter<{ status: [VmStatus] }> implements VirtualMachine {
  readonly kind = SYNTHETIC_KIND;
  /** The workload's name. */
  readonly workload: WorkloadName;
  /** Number of vCPU workers. */
  readonly vcpus: number;
  /** The random workload's seed. */
  readonly seed: number;
  /** The RAM the workload writes. */
  readonly region: ResolvedRegion;
  /** The workload's knobs, defaults filled in. */
  readonly workloadOptions: ResolvedWorkloadOptions;
  /**
   * On a destination: wall-clock ms of the guest's last write on the source, from its device
   * state (0 when unknown or on a guest started fresh). See {@link Guest.guestDowntimeMs}.
   */
  sourceLastStepWallMs = 0;
  private phaseNow: Phase = 'running';
  private throttleValue = 0;
  private failure: Error | undefined;
  private pausing: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly workers: Worker[] = [];
  private readonly threadIds: number[] = [];

  private constructor(
    /** The guest's RAM (live: pause before reading it as a whole). */
    readonly memory: GuestMemory,
    /** The dirty log the migration syncs. */
    readonly dirtyLog: DirtyLog,
    private readonly control: ControlBlock,
    config: Config,
  ) {
    super();
    this.workload = config.workload;
    this.vcpus = config.vcpus;
    this.seed = config.seed;
    this.region = config.region;
    this.workloadOptions = config.options;
  }

  /**
   * Starts a workload on fresh vCPU workers; resolves once every worker runs.
   * @throws InvalidArgumentError for bad options or non-shared memory.
   * @throws LivemigError `GUEST_STATE` if a worker fails to start.
   */
  static async start(options: GuestOptions): Promise<Guest> {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('Guest.start expects an options object');
    const memory = checkMemory(options.memory);
    const workload = checkWorkload(options.workload);
    const vcpus = checkVcpus(options.vcpus ?? 1);
    const region = resolveRegion(memory, options.region ?? {});
    const config: Config = {
      workload,
      vcpus,
      seed: checkSeed(options.seed ?? 0),
      region,
      options: resolveWorkloadOptions(workload, options.workloadOptions, region.pageCount, vcpus),
    };
    const positions: VcpuPosition[] = [];
    const prng = new Uint32Array(PRNG_STATE_WORDS);
    for (let v = 0; v < config.vcpus; v++) {
      prngSeed(config.seed, v, prng);
      positions.push({ page: vcpuPageRange(config.workload, config.vcpus, v, config.region.pageCount, config.options).start, prng: Array.from(prng), workDone: 0 });
    }
    return Guest.launch(memory, config, positions, checkLogKind(options.dirtyLog));
  }

  /**
   * Destination side: continues the source's workload exactly where it stopped, from RAM that
   * holds the source's pages and the source's {@link Guest.deviceState}. A stride keeps its single
   * boundary; seed and random continue their sequences. `paused`: the vCPUs start paused (they
   * write nothing until `resume()`), so a destination can start them while it still checks RAM.
   * @throws InvalidArgumentError for a malformed device state or RAM laid out unlike the source's.
   * @throws LivemigError `GUEST_STATE` if a worker fails to start.
   */
  static async resumeFrom(memory: GuestMemory, deviceState: Uint8Array, options: { dirtyLog?: DirtyLogKind; paused?: boolean; parked?: ParkedVcpus } = {}): Promise<Guest> {
    checkMemory(memory);
    const s = decodeDeviceState(memory, deviceState);
    const config: Config = { workload: s.workload, vcpus: s.vcpus, seed: s.seed, region: s.region, options: s.options ?? resolveWorkloadOptions(s.workload, {}, s.region.pageCount, s.vcpus) };
    // threads started ahead (a destination parks them while RAM arrives) run the first vCPUs
    if (options.parked) await options.parked.ready;
    const guest = await Guest.launch(memory, config, s.vcpu, checkLogKind(options.dirtyLog), options.paused === true, options.parked);
    guest.sourceLastStepWallMs = s.lastStepWallMs ?? 0;
    return guest;
  }

  private static async launch(memory: GuestMemory, config: Config, positions: VcpuPosition[], kind: DirtyLogKind, paused = false, parked?: ParkedVcpus): Promise<Guest> {
    const log = kind === 'explicit' ? new ExplicitDirtyLog(memory) : new ScanningDirtyLog(memory);
    const control = ControlBlock.create(config.vcpus);
    const guest = new Guest(memory, log, control, config);
    // paused: the command is PAUSE before any worker reads it, so none takes a step
    const pauseCmd = paused ? control.setCommand(CMD_PAUSE) : -1;
    if (paused) guest.phase = 'pausing';
    const blocks = memory.blocks.map((b) => ({
      idstr: b.idstr,
      sab: b.bytes.buffer as SharedArrayBuffer,
      byteOffset: b.bytes.byteOffset,
      sizeBytes: b.sizeBytes,
    }));
    const url = new URL('./workload-worker.js', import.meta.url);
    const ready: Promise<void>[] = [];
    for (let v = 0; v < config.vcpus; v++) {
      const start = positions[v]!;
      control.publishWork(v, start.workDone);
      const init: WorkerInit = {
        blocks,
        control: control.shared,
        dirtyBitmap: log instanceof ExplicitDirtyLog ? log.shared : null,
        plan: { workload: config.workload, region: config.region, vcpus: config.vcpus, vcpu: v, options: config.options },
        start,
      };
      const waiting = parked?.take();
      const worker = waiting ?? new Worker(url, { workerData: init, name: `livemig vCPU ${v}` });
      guest.workers.push(worker);
      ready.push(guest.watch(worker, v));
      waiting?.postMessage(init);
    }
    try {
      await Promise.all(ready);
      if (paused) {
        await guest.awaitAcks(pauseCmd);
      }
    } catch (e) {
      await guest.stop();
      throw e;
    }
    return guest;
  }

  private get phase(): Phase {
    return this.phaseNow;
  }

  /** Every phase change goes through here, so that `status` events follow `status`. */
  private set phase(p: Phase) {
    const before = this.status;
    this.phaseNow = p;
    if (this.status !== before) this.emit('status', this.status);
  }

  /** Nothing: the synthetic guest is built from its RAM block list and device state alone. */
  machineConfig(): Record<string, never> {
    return {};
  }

  /** Resolves when the worker reports ready; afterwards records its failure, if any. */
  private watch(worker: Worker, vcpu: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let started = false;
      worker.once('message', (m: unknown) => {
        started = true;
        this.threadIds[vcpu] = typeof m === 'object' && m !== null ? Number((m as { tid?: unknown }).tid) || 0 : 0;
        resolve();
      });
      worker.on('error', (e) => {
        const err = new LivemigError('GUEST_STATE', `vCPU ${vcpu} failed: ${e.message}`, { cause: e });
        this.failure ??= err;
        if (!started) reject(err);
      });
      worker.on('exit', (code) => {
        if (this.phase === 'stopped') return;
        const err = new LivemigError('GUEST_STATE', `vCPU ${vcpu} exited unexpectedly with code ${code}`);
        this.failure ??= err;
        if (!started) reject(err);
      });
    });
  }

  /** `running`, `paused` (every vCPU acknowledged, memory is stable) or `stopped`. */
  get status(): GuestStatus {
    return this.phaseNow === 'pausing' ? 'running' : this.phaseNow;
  }

  /**
   * Stops every vCPU between two pages and resolves once all have acknowledged: from then on
   * RAM does not change until `resume()`. Concurrent calls share one pause; pausing a paused
   * guest resolves at once.
   * @throws LivemigError `GUEST_STATE` if the guest is stopped, a vCPU died, or `resume()`/`stop()`
   *   came before every vCPU acknowledged.
   */
  pause(): Promise<void> {
    if (this.phase === 'stopped') return Promise.reject(new LivemigError('GUEST_STATE', 'cannot pause a stopped guest'));
    if (this.phase === 'paused') return Promise.resolve();
    if (this.pausing !== undefined) return this.pausing;
    this.phase = 'pausing';
    const cmd = this.control.setCommand(CMD_PAUSE);
    const p = this.awaitAcks(cmd);
    this.pausing = p;
    const clear = (): void => {
      if (this.pausing === p) this.pausing = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  /**
   * Waits until every vCPU acknowledged `cmd` (a pause), then makes the guest paused. The
   * first look comes after the caller's synchronous code (one microtask later): a `resume()` or
   * `stop()` right after `pause()` always interrupts it, however fast the vCPU threads acknowledge.
   */
  private async awaitAcks(cmd: number): Promise<void> {
    const words = this.control.words;
    await Promise.resolve();
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (this.phase !== 'pausing' || this.control.command() !== cmd) {
        throw new LivemigError('GUEST_STATE', `pause interrupted: the guest was ${this.phase === 'stopped' ? 'stopped' : 'resumed'} first`);
      }
      const seq = this.control.ackSeq();
      let all = true;
      for (let v = 0; v < this.vcpus && all; v++) all = this.control.acknowledged(v) === cmd;
      if (all) {
        // in the turn that saw the acknowledgements: a resume() or stop() after this is not
        // overwritten by a later 'paused'
        this.phase = 'paused';
        return;
      }
      await waitForChange(words, ControlBlock.ACK_SEQ_INDEX, seq, ACK_POLL_MS);
    }
  }

  /**
   * Lets the vCPUs run again (a no-op on a running guest). Cancels a pause still in progress.
   * @throws LivemigError `GUEST_STATE` if the guest is stopped.
   */
  resume(): void {
    if (this.phase === 'stopped') throw new LivemigError('GUEST_STATE', 'cannot resume a stopped guest');
    if (this.phase === 'running') return;
    this.phase = 'running';
    this.control.setCommand(CMD_RUN);
  }

  /**
   * QEMU's cpu-throttle: each vCPU sleeps so that it runs `(100 - percent)` % of the time
   * (after every 10 ms of running it sleeps `percent / (100 - percent)` as long). 0 = full speed.
   * @throws InvalidArgumentError unless `percent` is an integer 0..99.
   * @throws LivemigError `GUEST_STATE` if the guest is stopped.
   */
  throttle(percent: number): void {
    if (typeof percent !== 'number' || !Number.isInteger(percent) || percent < 0 || percent > 99) {
      throw new InvalidArgumentError(`throttle percent must be an integer 0..99, got ${String(percent)}`);
    }
    if (this.phase === 'stopped') throw new LivemigError('GUEST_STATE', 'cannot throttle a stopped guest');
    this.throttleValue = percent;
    this.control.throttle = percent;
  }

  /** The throttle in force (0 = none). */
  get throttlePercent(): number {
    return this.throttleValue;
  }

  /**
   * The guest's non-RAM state (UTF-8 JSON, see `device-state.ts`): workload, vCPUs, seed,
   * region, RAM layout and each vCPU's position, PRNG state and work count. Feed it with a copy
   * of RAM to {@link Guest.resumeFrom}.
   * @throws LivemigError `GUEST_STATE` unless the guest is paused (positions move while running).
   */
  deviceState(): Uint8Array {
    if (this.phase !== 'paused') {
      throw new LivemigError('GUEST_STATE', `deviceState() needs a paused guest; it is ${this.phase}`);
    }
    const vcpu: VcpuPosition[] = [];
    for (let v = 0; v < this.vcpus; v++) vcpu.push(this.control.position(v));
    return encodeDeviceState(this.memory, {
      workload: this.workload,
      vcpus: this.vcpus,
      seed: this.seed,
      region: this.region,
      vcpu,
      options: this.workloadOptions,
      lastStepWallMs: this.lastStepWallMs(),
    });
  }

  /**
   * Wall-clock ms (`performance.timeOrigin + performance.now()`, comparable across processes of
   * one host) at which the last batch of writes of any vCPU ended; 0 if none wrote yet. On a
   * paused guest: the moment it last ran, as the guest saw it.
   */
  lastStepWallMs(): number {
    let t = 0;
    for (let v = 0; v < this.vcpus; v++) t = Math.max(t, this.control.stepTimes(v).lastStepWallMs);
    return t;
  }

  /** Wall-clock ms at which the first vCPU of this guest (started or resumed here) began writing; 0 before. */
  firstStepWallMs(): number {
    let t = 0;
    for (let v = 0; v < this.vcpus; v++) {
      const f = this.control.stepTimes(v).firstStepWallMs;
      if (f > 0 && (t === 0 || f < t)) t = f;
    }
    return t;
  }

  /**
   * On a destination: the downtime the guest saw, from its last write on the source to its first
   * here, in ms; undefined until it wrote here (an idle guest never does) or without the source's time.
   */
  guestDowntimeMs(): number | undefined {
    const first = this.firstStepWallMs();
    if (first === 0 || this.sourceLastStepWallMs === 0) return undefined;
    return first - this.sourceLastStepWallMs;
  }

  /**
   * CPU time (user + system, ms) the vCPU threads have used, from Linux's per-thread
   * accounting (`/proc/self/task/TID/stat`, 10 ms ticks); 0 where that is not available. Lets a
   * caller split the process's CPU time between the guest and the migration.
   */
  vcpuCpuTimeMs(): number {
    let ticks = 0;
    for (const tid of this.threadIds) {
      if (!tid) continue;
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
      } catch {
        // the thread has ended: its time is no longer counted
      }
    }
    return ticks * 10;
  }

  /**
   * Pages written by all vCPUs since the workload began (carried across migrations): sample it
   * twice to measure the work rate, e.g. under throttling. Up to one 64-page batch a vCPU behind.
   */
  workDone(): number {
    let total = 0;
    for (let v = 0; v < this.vcpus; v++) total += this.control.workDone(v);
    return total;
  }

  /** Terminates every vCPU worker. Idempotent; safe in any state, also after a failure. */
  stop(): Promise<void> {
    if (this.stopping === undefined) {
      this.phase = 'stopped';
      this.control.setCommand(CMD_STOP);
      this.stopping = Promise.all(this.workers.map((w) => w.terminate())).then(() => undefined);
    }
    return this.stopping;
  }
}

function checkMemory(memory: unknown): GuestMemory {
  if (!(memory instanceof GuestMemory)) throw new InvalidArgumentError('guest memory must be a GuestMemory');
  for (const b of memory.blocks) {
    if (!b.shared) {
      throw new InvalidArgumentError(`RAM block ${JSON.stringify(b.idstr)} is not in a SharedArrayBuffer: vCPU workers cannot run on it`);
    }
  }
  return memory;
}

function checkLogKind(kind: unknown): DirtyLogKind {
  if (kind === undefined) return 'explicit';
  if (kind !== 'explicit' && kind !== 'scan') throw new InvalidArgumentError(`dirtyLog must be 'explicit' or 'scan', got ${JSON.stringify(kind)}`);
  return kind;
}

/**
 * Waits until `words[index]` may differ from `value`, at most `timeoutMs`. A pending
 * `Atomics.waitAsync` does not keep Node's event loop alive, so a timer runs beside it.
 */
async function waitForChange(words: Int32Array, index: number, value: number, timeoutMs: number): Promise<void> {
  const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, waitAsync === undefined ? 1 : timeoutMs);
  });
  try {
    if (waitAsync === undefined) return await timeout;
    const r = waitAsync(words, index, value, timeoutMs);
    if (r.async) await Promise.race([r.value, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
