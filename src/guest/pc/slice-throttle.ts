/**
 * QEMU's cpu-throttle for an emulator that runs in slices on the event loop: after a slice of
 * d ms the guest owes `d * percent / (100 - percent)` ms of not running; the debt is slept off in
 * whole ms (timers are no finer), and time the guest spends halted anyway pays it too. Over any
 * run of slices the guest then runs `100 - percent` % of the time, give or take one ms.
 */
import { InvalidArgumentError } from '../../errors.js';

export class SliceThrottle {
  private value = 0;
  private debtMs = 0;

  /** The throttle in force (0 = none). */
  get percent(): number {
    return this.value;
  }

  /** Ms owed and not yet slept. */
  get owedMs(): number {
    return this.debtMs;
  }

  /** @throws InvalidArgumentError unless `percent` is an integer 0..99. */
  set(percent: number): void {
    if (typeof percent !== 'number' || !Number.isInteger(percent) || percent < 0 || percent > 99) {
      throw new InvalidArgumentError(`throttle percent must be an integer 0..99, got ${String(percent)}`);
    }
    this.value = percent;
    if (percent === 0) this.debtMs = 0;
  }

  /**
   * A slice of `ranMs` ended and the emulator asks to wait `waitMs` (0 to go on at once, more
   * when its guest halted until a timer). Returns how long to wait before the next slice.
   */
  next(ranMs: number, waitMs: number): number {
    const p = this.value;
    if (p > 0 && ranMs > 0) this.debtMs += (ranMs * p) / (100 - p);
    const wait = Math.max(waitMs, this.debtMs >= 1 ? Math.floor(this.debtMs) : 0);
    this.debtMs = Math.max(0, this.debtMs - wait);
    return wait;
  }
}
