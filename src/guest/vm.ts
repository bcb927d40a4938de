/**
 * The machine the migration engine moves: what it reads (RAM blocks and a dirty log), what it
 * drives (pause, resume, an optional throttle) and what it carries besides RAM (the machine's
 * kind and configuration at setup, its device state at the switchover). The engine knows no
 * concrete machine: livemig's synthetic guest, the v86 PC and a library user's own VM all
 * implement this.
 *
 * On the destination, a {@link VmKind} per machine kind builds the same machine: first its RAM
 * from the configuration (before any page arrives, so pages load in place), then the running
 * machine from the device state once RAM is complete and checked.
 */
import type { DirtyLog } from './dirty-log.js';
import type { GuestMemory } from './guest-memory.js';

/** A machine's run state (a pause in progress reads as `running`). */
export type VmStatus = 'running' | 'paused' | 'stopped';

/**
 * A migratable machine. Implement it (extending `EventEmitter` gives `on`/`off`) to migrate
 * your own VM: RAM in a {@link GuestMemory}, a {@link DirtyLog} (a `ScanningDirtyLog` when
 * nothing can mark writes), pause/resume, and a device state a {@link VmKind} turns back
 * into a machine.
 */
export interface VirtualMachine {
  /** The machine kind: the destination builds it with the {@link VmKind} of this name. */
  readonly kind: string;
  /** The RAM blocks the engine migrates (live while running). */
  readonly memory: GuestMemory;
  /** Which pages changed since the last sync. */
  readonly dirtyLog: DirtyLog;
  readonly status: VmStatus;
  /**
   * What the destination needs to build this machine before its RAM arrives (RAM size,
   * firmware, boot images or their digests): JSON-serialisable, sent at setup.
   */
  machineConfig(): unknown;
  /** Stops the machine: once it resolves, RAM does not change until `resume()`. */
  pause(): Promise<void>;
  /** Lets a paused machine run again. */
  resume(): void;
  /** Ends the machine for good (idempotent). */
  stop(): Promise<void>;
  /** The non-RAM state of the paused machine (CPU, devices), as its {@link VmKind} reads it back. */
  deviceState(): Uint8Array | Promise<Uint8Array>;
  /** `status` is emitted at every change of {@link VirtualMachine.status}. */
  on(event: 'status', listener: (status: VmStatus) => void): unknown;
  off(event: 'status', listener: (status: VmStatus) => void): unknown;
  /** Optional: QEMU's cpu-throttle (0..99 % of the time not running); auto-converge uses it. */
  throttle?(percent: number): void;
  /** Optional: the throttle in force. */
  readonly throttlePercent?: number;
  /**
   * Optional: the machine runs on this thread's event loop (an emulator in the same isolate),
   * so the engine works in slices of at most `sliceMs` and lets the event loop turn between
   * them; without it the engine assumes the machine runs elsewhere (worker threads, a process).
   */
  readonly eventLoop?: {
    readonly sliceMs: number;
    /**
     * Optional: the engine's turn between two of its slices, letting the machine run its share
     * (default: one turn of the event loop).
     */
    turn?(): Promise<void>;
  };
  /** Optional: a counter of the guest's work, sampled to report its speed during migration. */
  workDone?(): number;
  /**
   * Optional: wall-clock ms (`performance.timeOrigin + performance.now()`) of the guest's last
   * step before it was paused; with the destination's first step it gives the downtime the
   * guest saw.
   */
  lastStepWallMs?(): number;
}

/** What a destination's {@link VmKind} made ready before the RAM arrived. */
export interface PreparedVm {
  /** Where the stream's RAM is loaded: its blocks must be the stream's by name and size. */
  readonly memory: GuestMemory;
  /** True when `memory` is all zero (the loader then skips zero pages it never wrote). */
  readonly memoryIsZero: boolean;
  /**
   * The machine, from the source's device state over the RAM as loaded; `paused`: it does not
   * run until `resume()`, so it can be started while RAM is still being checked.
   */
  start(deviceState: Uint8Array, options: { paused: boolean }): Promise<VirtualMachine>;
  /** Frees what preparing took, when no machine will be started from it. */
  discard(): Promise<void>;
}

/** Builds destination machines of one kind. */
export interface VmKind {
  /**
   * Prepares a machine from the source's {@link VirtualMachine.machineConfig} and the stream's
   * RAM block list, before any page arrives.
   * @throws LivemigError naming what is missing or does not match (the migration then fails and
   *   the source keeps running).
   */
  prepare(config: unknown, blocks: readonly { idstr: string; lengthBytes: number }[]): Promise<PreparedVm>;
  /**
   * Optional: starts now what the next {@link prepare} would start (threads, say), so that a
   * destination that calls it before it listens does not start them while the stream's RAM
   * arrives, on cores the stream needs. Resolves once they are up; never rejects (what failed
   * to start is started again by `prepare`).
   */
  startEarly?(): Promise<void>;
}

/** The machine kinds a destination can build, by name. */
export type VmKinds = Readonly<Record<string, VmKind>>;
