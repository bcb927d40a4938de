/**
 * Token bucket for the iterate stage, in QEMU's shape: a budget of max-bandwidth / 10 bytes
 * per 100 ms window (a record in flight may overshoot a window by itself). 0 = unlimited.
 */
export const RATE_WINDOW_MS = 100;

export class RateLimiter {
  private windowStart = 0;
  private windowBytes = 0;

  constructor(private bytesPerSecond: number, private readonly now: () => number = () => performance.now()) {
    this.windowStart = now();
  }

  setRate(bytesPerSecond: number): void {
    this.bytesPerSecond = bytesPerSecond;
  }

  get rate(): number {
    return this.bytesPerSecond;
  }

  account(bytes: number): void {
    this.roll();
    this.windowBytes += bytes;
  }

  /** True when this window's budget is spent. */
  exceeded(): boolean {
    if (this.bytesPerSecond === 0) return false;
    this.roll();
    return this.windowBytes >= (this.bytesPerSecond * RATE_WINDOW_MS) / 1000;
  }

  /** Milliseconds until the current window ends. */
  msUntilNextWindow(): number {
    return Math.max(0, this.windowStart + RATE_WINDOW_MS - this.now());
  }

  private roll(): void {
    const t = this.now();
    if (t - this.windowStart >= RATE_WINDOW_MS) {
      this.windowStart = t;
      this.windowBytes = 0;
    }
  }
}

/**
 * A simulated link of `bytesPerSecond`: `wait(n)` resolves when n more bytes may go, so a
 * sink wrapped with it drains no faster than the link (every stage, stop-and-copy included).
 */
export class LinkPacer {
  private nextFree = 0;

  constructor(private readonly bytesPerSecond: number, private readonly now: () => number = () => performance.now()) {}

  async wait(bytes: number): Promise<void> {
    const t = this.now();
    const start = Math.max(t, this.nextFree);
    this.nextFree = start + (bytes * 1000) / this.bytesPerSecond;
    const delay = this.nextFree - t;
    if (delay >= 1) await new Promise((r) => setTimeout(r, delay));
  }
}
