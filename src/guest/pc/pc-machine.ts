/**
 * An x86 PC, emulated by v86 (x86 to WebAssembly, JIT), as a {@link VirtualMachine}: its RAM is
 * v86's own WebAssembly memory, reached through one direct view (v86's `cpu.mem8` is a Proxy
 * that builds an array per access); v86 keeps no dirty log, so pages are found dirty by
 * comparing them with what was sent (the scanning log); its non-RAM state is v86's saved state
 * with the RAM left out (v86 would pack all of it), and on the destination that state is
 * restored over the RAM the stream loaded. v86 runs on this thread's event loop, so the
 * engine works in short slices between the emulator's own.
 *
 * v86's internals used here (`v86.cpu`, `wasm_memory`, `mem8`, `memory_size`, `pack_memory`,
 * `unpack_memory`) are why its version is pinned exactly.
 */
import { EventEmitter } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { constants as zlibConstants, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { V86, V86Options } from 'v86';
import { InvalidArgumentError, LivemigError } from '../../errors.js';
import { GuestMemory } from '../guest-memory.js';
import { ScanningDirtyLog } from '../scanning-dirty-log.js';
import type { VirtualMachine, VmStatus } from '../vm.js';
import type { PcConfig, PcMedia } from './pc-config.js';
import { SliceThrottle } from './slice-throttle.js';

/** The machine kind of the v86 PC. */
export const PC_KIND = 'pc';
/** The stream's name for the PC's RAM block, as QEMU's pc machine names it. */
export const PC_RAM_IDSTR = 'pc.ram';
/**
 * The engine's longest stretch between two of the emulator's slices (v86 runs ~2 ms a slice):
 * shorter than the guest's, so that the guest keeps more than half the thread during pre-copy.
 */
const PC_SLICE_MS = 1;
/**
 * The guest's share of this thread while the engine and a busy guest take turns: after each of
 * the engine's slices the emulator runs at least `GUEST_SHARE / (1 - GUEST_SHARE)` times as long
 * (v86 loses some speed beside the engine besides the time: caches, the destination's process).
 */
const GUEST_SHARE = 0.75;
/** Longest the engine waits for the guest's share in one turn (a long engine step owes no more). */
const MAX_GUEST_TURN_MS = 8;
/** VGA memory: the guests here are headless; v86's 8 MiB default would travel in every device state. */
const VGA_MEMORY_BYTES = 256 * 1024;
/**
 * Largest device state inflated on a destination: v86's state without RAM is ~1.4 MB plus the
 * floppy and disk images it holds in memory; the bound keeps a hostile stream from inflating more.
 */
const MAX_STATE_BYTES = 512 * 1024 * 1024;

/** The parts of v86's CPU object this file reaches (internal API of the pinned version). */
/** v86's main loop object (`emulator.v86`): one `do_tick` a slice, `yield` schedules the next. */
interface V86Main {
  cpu: V86Cpu;
  do_tick(): void;
  yield(t: number, tick: number): void;
}

interface V86Cpu {
  wasm_memory: WebAssembly.Memory;
  mem8: Uint8Array;
  memory_size: ArrayLike<number>;
  pack_memory(): { bitmap: { get_buffer(): ArrayBuffer }; packed_memory: Uint8Array };
  unpack_memory(bitmap: unknown, packed: Uint8Array): void;
}

export interface PcMachineOptions {
  /** Each byte the guest writes to COM1. */
  serial?: (byte: number) => void;
  /** Start running once built (default true; a destination builds it stopped). */
  autostart?: boolean;
  /**
   * The guest's share (0..1) of this thread while the engine works in slices beside it; default
   * 0.75. 0 leaves it one emulator slice per engine slice.
   */
  guestShare?: number;
}

export class PcMachine extends EventEmitter<{ status: [VmStatus] }> implements VirtualMachine {
  readonly kind = PC_KIND;
  readonly eventLoop: { readonly sliceMs: number; turn(): Promise<void> };
  readonly memory: GuestMemory;
  readonly dirtyLog: ScanningDirtyLog;
  private state: VmStatus;
  private stopping: Promise<void> | undefined;
  private pausedAtWallMs = 0;
  /** v86's instruction counter wraps at 2^32: its last reading and the total before it. */
  private counterLast = 0;
  private counterTotal = 0;
  private readonly throttler = new SliceThrottle();
  /** Start of the emulator slice in progress (0 outside one). */
  private tickStart = 0;
  /** Ms spent in emulator slices so far. */
  private guestMs = 0;
  /** When the engine's last turn ended, and `guestMs` then: the engine's slice is what lies between. */
  private turnEndedAt = 0;
  private guestMsAtTurnEnd = 0;
  private readonly guestRatio: number;

  private constructor(
    readonly config: PcConfig,
    private readonly emulator: V86,
    private readonly cpu: V86Cpu,
    ram: Uint8Array,
    running: boolean,
    guestShare: number,
  ) {
    super();
    this.guestRatio = guestShare / (1 - guestShare);
    this.eventLoop = { sliceMs: PC_SLICE_MS, turn: () => this.engineTurn() };
    this.schedule((emulator as unknown as { v86: V86Main }).v86);
    this.state = running ? 'running' : 'paused';
    // v86's memory grows as the guest runs (its JIT's tables): the old buffer, and every view
    // over it, is then detached; the RAM stays at the same offset
    const offset = ram.byteOffset;
    const size = ram.length;
    // the Memory object outlives its buffers: in-place SIMD (fill test, page hash) stays valid
    this.memory = GuestMemory.wrap([{ idstr: PC_RAM_IDSTR, bytes: ram, wasmMemory: cpu.wasm_memory, refresh: () => new Uint8Array(cpu.wasm_memory.buffer, offset, size) }]);
    this.dirtyLog = new ScanningDirtyLog(this.memory, { method: 'compare' });
  }

  /**
   * Builds the PC and resolves once v86 has loaded (and, with `autostart`, runs).
   * @throws LivemigError GUEST_STATE when v86 cannot start or lays its RAM out otherwise.
   */
  static async create(config: PcConfig, media: PcMedia, options: PcMachineOptions = {}): Promise<PcMachine> {
    const { V86: Emulator } = await import('v86');
    const wasmPath = fileURLToPath(new URL('./v86.wasm', import.meta.resolve('v86')));
    const autostart = options.autostart !== false;
    const guestShare = options.guestShare ?? GUEST_SHARE;
    if (!(guestShare >= 0 && guestShare < 1)) throw new InvalidArgumentError(`guestShare must be in 0..1 (1 excluded), got ${String(guestShare)}`);
    const v86Options: V86Options = {
      wasm_path: wasmPath,
      memory_size: config.ramBytes,
      vga_memory_size: VGA_MEMORY_BYTES,
      bios: { buffer: own(media.bios) },
      autostart,
      disable_speaker: true,
      ...(media.fda ? { fda: { buffer: own(media.fda) } } : {}),
      ...(media.hda ? { hda: { buffer: own(media.hda) } } : {}),
      ...(media.kernel ? { bzimage: { buffer: own(media.kernel) } } : {}),
      ...(media.initrd ? { initrd: { buffer: own(media.initrd) } } : {}),
      ...(config.append !== undefined ? { cmdline: config.append } : {}),
    };
    let emulator: V86;
    try {
      emulator = new Emulator(v86Options);
    } catch (e) {
      throw new LivemigError('GUEST_STATE', `v86 could not start: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const serial = options.serial;
    if (serial) emulator.add_listener('serial0-output-byte', (b: number) => serial(b));
    await new Promise<void>((resolve) => emulator.add_listener('emulator-loaded', () => resolve()));
    const cpu = (emulator as unknown as { v86: { cpu: V86Cpu } }).v86.cpu;
    const size = cpu.memory_size[0]!;
    if (size !== config.ramBytes) {
      await emulator.destroy();
      throw new LivemigError('GUEST_STATE', `v86 made ${size} bytes of RAM where ${config.ramBytes} were asked (with --initrd it takes at least 64 MiB)`);
    }
    const ram = new Uint8Array(cpu.wasm_memory.buffer, cpu.mem8.byteOffset, size);
    return new PcMachine(config, emulator, cpu, ram, autostart, guestShare);
  }

  get status(): VmStatus {
    return this.state;
  }

  machineConfig(): PcConfig {
    return this.config;
  }

  async pause(): Promise<void> {
    if (this.state === 'stopped') throw new LivemigError('GUEST_STATE', 'cannot pause a stopped PC');
    if (this.state === 'paused') return;
    await this.emulator.stop();
    this.pausedAtWallMs = performance.timeOrigin + performance.now();
    this.checkRam();
    this.setStatus('paused');
  }

  resume(): void {
    if (this.state === 'stopped') throw new LivemigError('GUEST_STATE', 'cannot resume a stopped PC');
    if (this.state === 'running') return;
    void this.emulator.run();
    this.setStatus('running');
  }

  stop(): Promise<void> {
    if (this.stopping === undefined) {
      this.setStatus('stopped');
      this.stopping = this.emulator.destroy().catch(() => undefined);
    }
    return this.stopping;
  }

  /**
   * v86's saved state without RAM, deflated (mostly zeros: 1.4 MB becomes tens of KiB, which
   * the switchover sends inside the downtime): its memory packing is bypassed for the one call
   * (the RAM goes in the stream's RAM section).
   * @throws LivemigError GUEST_STATE unless paused.
   */
  async deviceState(): Promise<Uint8Array> {
    if (this.state !== 'paused') throw new LivemigError('GUEST_STATE', `deviceState() needs a paused PC; it is ${this.state}`);
    const cpu = this.cpu;
    cpu.pack_memory = () => ({ bitmap: { get_buffer: () => new ArrayBuffer(0) }, packed_memory: new Uint8Array(0) });
    try {
      return deflateRawSync(new Uint8Array(await this.emulator.save_state()), { level: 1 });
    } finally {
      delete (cpu as Partial<V86Cpu>).pack_memory; // the prototype's again
    }
  }

  /**
   * Destination: restores a device state from {@link deviceState} over the RAM as it is now (the
   * stream's); v86 then clears its JIT cache, which holds code compiled from the old RAM.
   * @throws LivemigError GUEST_STATE for a state v86 refuses (another v86 version, say).
   */
  async restore(state: Uint8Array): Promise<void> {
    if (this.state !== 'paused') throw new LivemigError('GUEST_STATE', `restore() needs a paused PC; it is ${this.state}`);
    const cpu = this.cpu;
    let raw: Uint8Array;
    try {
      raw = inflateRawSync(state, { maxOutputLength: MAX_STATE_BYTES, finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (e) {
      throw new LivemigError('GUEST_STATE', `the PC's device state does not inflate: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    cpu.unpack_memory = () => undefined;
    try {
      await this.emulator.restore_state(own(raw));
    } catch (e) {
      throw new LivemigError('GUEST_STATE', `v86 refused the PC's device state: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    } finally {
      delete (cpu as Partial<V86Cpu>).unpack_memory;
    }
    this.checkRam();
  }

  /** Instructions the CPU has run (v86's counter, unwrapped), as the guest's work. */
  workDone(): number {
    const now = this.emulator.get_instruction_counter() >>> 0;
    this.counterTotal += (now - this.counterLast) >>> 0;
    this.counterLast = now;
    return this.counterTotal;
  }

  /**
   * QEMU's cpu-throttle: the emulator sleeps between its slices so that it runs `100 - percent`
   * % of the time ({@link SliceThrottle}). 0 = full speed.
   * @throws InvalidArgumentError unless `percent` is an integer 0..99.
   * @throws LivemigError GUEST_STATE for a stopped PC.
   */
  throttle(percent: number): void {
    if (this.state === 'stopped') throw new LivemigError('GUEST_STATE', 'cannot throttle a stopped PC');
    this.throttler.set(percent);
  }

  /** The throttle in force (0 = none). */
  get throttlePercent(): number {
    return this.throttler.percent;
  }

  /** Wall-clock ms spent in the emulator's slices so far (what the guest had of this thread). */
  get emulatorMs(): number {
    return this.guestMs;
  }

  /** The wall-clock ms of the last emulator slice. */
  lastSliceMs = 0;
  /** Ms of throttle sleeps taken so far (waits beyond the emulator's own, once each is over). */
  throttleSleptMs = 0;
  private sleepingMs = 0;

  /** The throttle sleep in progress, in ms (0: none); {@link throttleSleptMs} counts it once it is over. */
  get throttleSleepingMs(): number {
    return this.sleepingMs;
  }

  /**
   * Wraps v86's scheduling: times each emulator slice (for {@link engineTurn}) and, under a
   * throttle, sleeps off what the slices owe before the next one.
   */
  private schedule(main: V86Main): void {
    const doTick = main.do_tick.bind(main);
    const yieldTo = main.yield.bind(main);
    main.do_tick = () => {
      this.throttleSleptMs += this.sleepingMs;
      this.sleepingMs = 0;
      this.tickStart = performance.now();
      try {
        doTick();
      } finally {
        this.tickStart = 0;
      }
    };
    // called at the end of each slice (inside do_tick) with v86's own wait (0, or the time to
    // the next timer when the guest halted), and outside slices to wake the emulator
    main.yield = (t, tick) => {
      let ran = 0;
      if (this.tickStart > 0) {
        ran = performance.now() - this.tickStart;
        this.guestMs += ran;
        this.lastSliceMs = ran;
      }
      const wait = this.throttler.next(ran, t);
      // a throttle's sleep, counted when the next slice starts (it is over then)
      this.sleepingMs = wait > t ? wait : 0;
      yieldTo(wait, tick);
    };
  }

  /**
   * The engine's turn between two of its slices: lets the emulator run until it has had its
   * share of the time since the engine's last turn (at most {@link MAX_GUEST_TURN_MS}), or
   * until a turn of the event loop passes without it running (halted, throttled, paused).
   */
  private async engineTurn(): Promise<void> {
    const now = performance.now();
    const engineMs = this.turnEndedAt > 0 ? Math.max(0, now - this.turnEndedAt - (this.guestMs - this.guestMsAtTurnEnd)) : PC_SLICE_MS;
    const owed = Math.min(MAX_GUEST_TURN_MS, engineMs * this.guestRatio);
    const start = this.guestMs;
    for (;;) {
      const before = this.guestMs;
      await nextTurn();
      if (this.guestMs === before || this.guestMs - start >= owed) break;
    }
    this.turnEndedAt = performance.now();
    this.guestMsAtTurnEnd = this.guestMs;
  }

  lastStepWallMs(): number {
    return this.pausedAtWallMs;
  }

  /** The guest's RAM (guest-physical address 0 at index 0), viewed anew if v86's memory grew. */
  get ram(): Uint8Array {
    return this.memory.blocks[0]!.bytes;
  }

  /** The RAM view must be live (v86 keeps RAM at one offset; a grown memory gets a new view). */
  private checkRam(): void {
    if (this.ram.byteLength === 0) throw new LivemigError('GUEST_STATE', 'the PC\'s RAM view is gone');
  }

  private setStatus(s: VmStatus): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('status', s);
  }
}

/** A fresh ArrayBuffer holding exactly these bytes (v86 takes whole ArrayBuffers). */
function own(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
