/**
 * A machine whose writes keep step with the migration instead of with the clock: while it runs,
 * each dirty-log sync first writes one round (every page of its working set, or the share a
 * vCPU throttle leaves: `ceil(pages × (100 − throttle) / 100)`), then reports it. So what a sync
 * finds is the same on a quiet machine and on a loaded one, and so is whether a migration
 * converges: a test of the engine's policies (stall, auto-converge, auto-xbzrle) gets the same
 * passes every run. Paused or stopped, it writes nothing.
 *
 * `dense` rewrites every word of a page (XBZRLE overflows, as bwmem); `sparse` changes 4 bytes a
 * page (a delta of a few bytes, as xbzrle-doc). The destination builds it with
 * {@link lockstepKind}; its device state is its round count and settings.
 */
import { EventEmitter } from 'node:events';
import { ExplicitDirtyLog, GuestMemory, PAGE_SIZE } from '../../src/guest/index.js';
import type { DirtyLog, PreparedVm, VirtualMachine, VmKind, VmStatus } from '../../src/guest/index.js';

export const LOCKSTEP_KIND = 'lockstep-vm';

export interface LockstepOptions {
  /** RAM in MiB (one block, pc.ram). */
  mib: number;
  pattern: 'dense' | 'sparse';
  /** Pages written each round, from page 0 (default: all). */
  workingSetPages?: number;
}

interface State {
  options: LockstepOptions;
  rounds: number;
  work: number;
}

/** The explicit log, with the machine's round written just before each sync takes the marks. */
class LockstepLog implements DirtyLog {
  readonly kind = 'explicit' as const;
  readonly usesSentBytes = false;
  constructor(private readonly inner: ExplicitDirtyLog, private readonly beforeSync: () => void) {}
  sync(into: Uint32Array): number {
    this.beforeSync();
    return this.inner.sync(into);
  }
  noteSent(globalPage: number, bytes: Uint8Array): void {
    this.inner.noteSent(globalPage, bytes);
  }
  reset(): void {
    this.inner.reset();
  }
}

export class LockstepVm extends EventEmitter<{ status: [VmStatus] }> implements VirtualMachine {
  readonly kind = LOCKSTEP_KIND;
  readonly memory: GuestMemory;
  readonly dirtyLog: DirtyLog;
  status: VmStatus = 'running';
  /** Rounds written (one per sync while running). */
  rounds: number;
  /** Every throttle the engine set, in order. */
  readonly throttles: number[] = [];
  private throttleNow = 0;
  private work: number;
  private readonly words: Uint32Array;
  private readonly inner: ExplicitDirtyLog;

  constructor(readonly options: LockstepOptions, memory?: GuestMemory, state?: State) {
    super();
    this.memory = memory ?? new GuestMemory([{ idstr: 'pc.ram', sizeBytes: options.mib << 20 }]);
    this.words = new Uint32Array(this.memory.blocks[0]!.bytes.buffer, this.memory.blocks[0]!.bytes.byteOffset, this.memory.blocks[0]!.sizeBytes >>> 2);
    if (!memory) for (let i = 0; i < this.words.length; i++) this.words[i] = Math.imul(i + 1, 0x9e3779b1); // RAM in use: no zero pages
    this.inner = new ExplicitDirtyLog(this.memory);
    this.dirtyLog = new LockstepLog(this.inner, () => this.round());
    this.rounds = state?.rounds ?? 0;
    this.work = state?.work ?? 0;
  }

  /** Pages written per round at the throttle in force. */
  get pagesPerRound(): number {
    const set = this.options.workingSetPages ?? this.memory.pageCount;
    return Math.ceil((set * (100 - this.throttleNow)) / 100);
  }

  private round(): void {
    if (this.status !== 'running') return;
    this.rounds++;
    const wordsPerPage = PAGE_SIZE / 4;
    for (let p = 0, n = this.pagesPerRound; p < n; p++) {
      const base = p * wordsPerPage;
      if (this.options.pattern === 'dense') {
        for (let w = 0; w < wordsPerPage; w++) this.words[base + w] = Math.imul(this.rounds * 0x01000193 + w, 0x9e3779b1) ^ p;
      } else {
        for (let k = 0; k < 4; k++) this.words[base + k * 256] = (this.words[base + k * 256]! + 1) >>> 0;
      }
      this.inner.mark(p);
      this.work++;
    }
  }

  machineConfig(): unknown {
    return { options: this.options };
  }
  pause(): Promise<void> {
    if (this.status === 'running') this.set('paused');
    return Promise.resolve();
  }
  resume(): void {
    if (this.status === 'paused') this.set('running');
  }
  stop(): Promise<void> {
    if (this.status !== 'stopped') this.set('stopped');
    return Promise.resolve();
  }
  deviceState(): Uint8Array {
    const state: State = { options: this.options, rounds: this.rounds, work: this.work };
    return new TextEncoder().encode(JSON.stringify(state));
  }
  throttle(percent: number): void {
    this.throttleNow = percent;
    this.throttles.push(percent);
  }
  get throttlePercent(): number {
    return this.throttleNow;
  }
  /** Page writes so far. */
  workDone(): number {
    return this.work;
  }
  private set(s: VmStatus): void {
    this.status = s;
    this.emit('status', s);
  }
}

/** The destination's builder: zeroed RAM of the source's size, then the machine from its device state. */
export const lockstepKind: VmKind = {
  prepare(config): Promise<PreparedVm> {
    const { options } = config as { options: LockstepOptions };
    const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: options.mib << 20 }]);
    return Promise.resolve({
      memory,
      memoryIsZero: true,
      start: (deviceState, { paused }) => {
        const state = JSON.parse(new TextDecoder().decode(deviceState)) as State;
        const vm = new LockstepVm(state.options, memory, state);
        if (paused) vm.status = 'paused';
        return Promise.resolve(vm);
      },
      discard: () => Promise.resolve(),
    });
  },
};
