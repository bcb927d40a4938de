import { PRNG_STATE_WORDS } from './prng.js';
import type { VcpuPlan, VcpuPosition } from './vcpu-workload.js';

/**
 * The control block shared by a guest's main thread and its vCPU workers (one
 * `SharedArrayBuffer`, Int32 words):
 *
 * ```
 * word 0      CMD        (epoch << 2) | state; state RUN=0, PAUSE=1, STOP=2; epoch +1 per change
 * word 1      THROTTLE   percent 0..99 a vCPU sleeps
 * word 2      ACK_SEQ    +1 and notify after every acknowledgement (the main thread waits on it)
 * word 8+16v  vCPU v slot:
 *   +0 ACK        the CMD value this vCPU last acknowledged as paused
 *   +1 PAGE       next region-relative page (published at pause)
 *   +2..+5 PRNG   generator state (published at pause)
 *   +6 WORK_SEQ   seqlock for WORK and LAST_STEP: odd while being written
 *   +8..+9 WORK   pages written so far, a float64 (exact to 2^53)
 *   +10..+11 LAST_STEP   wall-clock ms (performance.timeOrigin + now) when the last batch ended
 *   +12..+13 FIRST_STEP  wall-clock ms when this worker's first batch began (0 before it)
 * ```
 * LAST_STEP and FIRST_STEP let a migration measure the downtime the guest itself saw: from
 * its last write on the source to its first on the destination (both on one host clock).
 * The epoch makes acknowledgements unambiguous: a pause → resume → pause sequence can't be
 * satisfied by an acknowledgement of the first pause.
 */
export const CMD_RUN = 0;
export const CMD_PAUSE = 1;
export const CMD_STOP = 2;

const CMD = 0;
const THROTTLE = 1;
const ACK_SEQ = 2;
const HEADER_WORDS = 8;
const SLOT_WORDS = 16;
const ACK = 0;
const PAGE = 1;
const PRNG = 2;
const WORK_SEQ = 6;
const WORK = 8;
const LAST_STEP = 10;
const FIRST_STEP = 12;

/** Everything a workload worker receives in `workerData` (structured-cloneable). */
export interface WorkerInit {
  /** Each block as a range of a shared buffer (a wrapped view need not start at offset 0). */
  readonly blocks: readonly { idstr: string; sab: SharedArrayBuffer; byteOffset: number; sizeBytes: number }[];
  readonly control: SharedArrayBuffer;
  /** The explicit log's bitmap, or null when the guest uses the scanning log. */
  readonly dirtyBitmap: SharedArrayBuffer | null;
  readonly plan: VcpuPlan;
  readonly start: VcpuPosition;
}

/** Typed access to the control block; both sides use it so the layout lives in one place. */
export class ControlBlock {
  /** The words, for `Atomics.wait`/`waitAsync` on {@link ControlBlock.CMD_INDEX} and {@link ControlBlock.ACK_SEQ_INDEX}. */
  readonly words: Int32Array;
  private readonly f64: Float64Array;
  /** Word index of CMD, for `Atomics.wait`. */
  static readonly CMD_INDEX = CMD;
  /** Word index of ACK_SEQ, for `Atomics.waitAsync`. */
  static readonly ACK_SEQ_INDEX = ACK_SEQ;

  /** Attaches to a block made by {@link ControlBlock.create} (in a worker: from `workerData`). */
  constructor(readonly shared: SharedArrayBuffer) {
    this.words = new Int32Array(shared);
    this.f64 = new Float64Array(shared);
  }

  /** A fresh block for `vcpus` vCPUs, in state RUN, throttle 0. */
  static create(vcpus: number): ControlBlock {
    const c = new ControlBlock(new SharedArrayBuffer((HEADER_WORDS + vcpus * SLOT_WORDS) * 4));
    for (let v = 0; v < vcpus; v++) c.words[slot(v) + ACK] = -1;
    return c;
  }

  /** The current CMD word (`(epoch << 2) | state`). */
  command(): number {
    return Atomics.load(this.words, CMD);
  }

  /**
   * Main thread: moves to `state` with a new epoch and wakes every waiter: vCPUs waiting on
   * CMD, and a pause waiting on ACK_SEQ (so it notices it was superseded). Returns the new CMD.
   */
  setCommand(state: number): number {
    const next = ((((this.command() >>> 2) + 1) & 0x1fffffff) << 2) | state;
    Atomics.store(this.words, CMD, next);
    Atomics.notify(this.words, CMD);
    Atomics.notify(this.words, ACK_SEQ);
    return next;
  }

  /** The throttle percent vCPUs apply (0 = none). */
  get throttle(): number {
    return Atomics.load(this.words, THROTTLE);
  }

  /** Main thread: sets the throttle and wakes sleeping vCPUs so a change applies at once. */
  set throttle(percent: number) {
    Atomics.store(this.words, THROTTLE, percent);
    Atomics.notify(this.words, CMD);
  }

  /** Counter bumped by every acknowledgement: what the main thread waits on. */
  ackSeq(): number {
    return Atomics.load(this.words, ACK_SEQ);
  }

  /** Worker: publish the position, then acknowledge `cmd` (the position is visible before the ack). */
  acknowledge(vcpu: number, cmd: number, page: number, prng: Uint32Array): void {
    const s = slot(vcpu);
    Atomics.store(this.words, s + PAGE, page);
    for (let i = 0; i < PRNG_STATE_WORDS; i++) Atomics.store(this.words, s + PRNG + i, prng[i]! | 0);
    Atomics.store(this.words, s + ACK, cmd);
    Atomics.add(this.words, ACK_SEQ, 1);
    Atomics.notify(this.words, ACK_SEQ);
  }

  /** The CMD value a vCPU last acknowledged as paused (-1 before its first pause). */
  acknowledged(vcpu: number): number {
    return Atomics.load(this.words, slot(vcpu) + ACK);
  }

  /** The position a paused vCPU published (valid once it acknowledged the current pause). */
  position(vcpu: number): VcpuPosition {
    const s = slot(vcpu);
    const prng: number[] = [];
    for (let i = 0; i < PRNG_STATE_WORDS; i++) prng.push(Atomics.load(this.words, s + PRNG + i) >>> 0);
    return { page: Atomics.load(this.words, s + PAGE), prng, workDone: this.workDone(vcpu) };
  }

  /**
   * Worker: publish the work counter and, if given, the wall-clock time of the batch that just
   * ended (seqlock, so a reader never sees a torn float64).
   */
  publishWork(vcpu: number, workDone: number, lastStepWallMs?: number): void {
    const s = slot(vcpu);
    Atomics.add(this.words, s + WORK_SEQ, 1);
    this.f64[(s + WORK) >>> 1] = workDone;
    if (lastStepWallMs !== undefined) this.f64[(s + LAST_STEP) >>> 1] = lastStepWallMs;
    Atomics.add(this.words, s + WORK_SEQ, 1);
  }

  /** Worker: the wall-clock time its first batch began (written once, before that batch's publishWork). */
  publishFirstStep(vcpu: number, wallMs: number): void {
    const s = slot(vcpu);
    Atomics.add(this.words, s + WORK_SEQ, 1);
    this.f64[(s + FIRST_STEP) >>> 1] = wallMs;
    Atomics.add(this.words, s + WORK_SEQ, 1);
  }

  /** The wall-clock ms of a vCPU's last batch end and first batch start (0 = none yet). */
  stepTimes(vcpu: number): { lastStepWallMs: number; firstStepWallMs: number } {
    const s = slot(vcpu);
    let last = 0;
    let first = 0;
    for (let tries = 0; tries < 1000; tries++) {
      const before = Atomics.load(this.words, s + WORK_SEQ);
      last = this.f64[(s + LAST_STEP) >>> 1]!;
      first = this.f64[(s + FIRST_STEP) >>> 1]!;
      if ((before & 1) === 0 && Atomics.load(this.words, s + WORK_SEQ) === before) break;
    }
    return { lastStepWallMs: last, firstStepWallMs: first };
  }

  /** The last published work counter. Bounded retries: a terminated worker may leave the seqlock odd. */
  workDone(vcpu: number): number {
    const s = slot(vcpu);
    let v = 0;
    for (let tries = 0; tries < 1000; tries++) {
      const before = Atomics.load(this.words, s + WORK_SEQ);
      v = this.f64[(s + WORK) >>> 1]!;
      if ((before & 1) === 0 && Atomics.load(this.words, s + WORK_SEQ) === before) break;
    }
    return v;
  }
}

function slot(vcpu: number): number {
  return HEADER_WORDS + vcpu * SLOT_WORDS;
}
