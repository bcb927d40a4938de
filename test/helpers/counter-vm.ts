/**
 * A VM of a library user's own, written against the public API only: RAM in a WebAssembly.Memory
 * (not shared, so nothing can mark its writes: the scanning dirty log finds them), a "CPU" that
 * runs on the event loop and stamps its step counter into one page after another, and a
 * device state that is that counter. It proves that the engine knows no concrete machine.
 */
import { EventEmitter } from 'node:events';
import { GuestMemory, ScanningDirtyLog } from '../../src/guest/index.js';
import type { PreparedVm, VirtualMachine, VmKind, VmStatus } from '../../src/guest/index.js';

export const COUNTER_KIND = 'counter-vm';

export class CounterVm extends EventEmitter<{ status: [VmStatus] }> implements VirtualMachine {
  readonly kind = COUNTER_KIND;
  readonly memory: GuestMemory;
  readonly dirtyLog: ScanningDirtyLog;
  readonly eventLoop = { sliceMs: 5 };
  status: VmStatus = 'paused';
  /** On a destination: the counter its device state carried. */
  restoredFrom = -1;
  private timer: NodeJS.Timeout | undefined;
  private readonly words: Uint32Array;

  constructor(readonly wasm: WebAssembly.Memory, public counter = 0) {
    super();
    this.memory = GuestMemory.wrap([{ idstr: 'counter.ram', bytes: new Uint8Array(wasm.buffer) }]);
    this.dirtyLog = new ScanningDirtyLog(this.memory);
    this.words = new Uint32Array(wasm.buffer);
  }
  machineConfig(): unknown {
    return { pages: this.memory.pageCount };
  }
  /** One step: the counter goes up and is written at the start of the next page. */
  private step = (): void => {
    this.counter++;
    this.words[(this.counter % this.memory.pageCount) * 1024] = this.counter;
    this.timer = setTimeout(this.step, 0);
  };
  resume(): void {
    if (this.status !== 'paused') return;
    this.set('running');
    this.step();
  }
  pause(): Promise<void> {
    clearTimeout(this.timer);
    if (this.status === 'running') this.set('paused');
    return Promise.resolve();
  }
  async stop(): Promise<void> {
    await this.pause();
    this.set('stopped');
  }
  deviceState(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ counter: this.counter }));
  }
  private set(s: VmStatus): void {
    this.status = s;
    this.emit('status', s);
  }
}

/** The destination's builder: RAM of the configured size first, then the VM from its counter. */
export const counterKind: VmKind = {
  prepare(config): Promise<PreparedVm> {
    const wasm = new WebAssembly.Memory({ initial: (config as { pages: number }).pages / 16 });
    const vm = new CounterVm(wasm);
    return Promise.resolve({
      memory: vm.memory,
      memoryIsZero: true,
      start: (state, { paused }) => {
        vm.counter = vm.restoredFrom = (JSON.parse(new TextDecoder().decode(state)) as { counter: number }).counter;
        if (!paused) vm.resume();
        return Promise.resolve(vm);
      },
      discard: () => vm.stop(),
    });
  },
};
