/**
 * The iterate stage's rate limit (`max-bandwidth`): a token bucket over bytes on the wire,
 * whose debt carries over.
 *
 * The bucket fills at the limit r and holds at most a small credit; a batch may start only
 * when the bucket owes nothing, may spend the credit plus a small quantum, and is charged
 * what it really wrote (it stops between records, so it ends up to one record past its
 * allowance). Whatever it overspent is a debt the next batch waits for, never forgotten.
 *
 * Hence, over any interval of length T: bytes <= r·T + credit + quantum + one record, and
 * credit + quantum + one record is 2 % of a second's budget (`SLACK`) whenever a record fits
 * in that (r >= 225 KiB/s). A batch, the largest burst, is bounded by the same 2 %, a fifth of
 * the tenth of a second QEMU's 100 ms windows allow. QEMU's windows instead reset at each
 * 100 ms and forget their overshoot, so a window's budget spent late plus the next ten's spent
 * early gives 1.1 r over a second.
 *
 * The credit lets a batch that starts late (a timer firing late, a dirty-log sync) make up
 * for it; `credit()` tells a throughput measurement how much of a window's bytes were owed to
 * time before the window.
 */

/** Over any interval, bytes stay within the limit plus this fraction of a second's budget. */
export const SLACK = 0.02;
/**
 * Most bytes a batch can write past its allowance: one record (a page, its header and a block
 * name of up to 255 bytes: 4363 bytes) and the batch's section framing (18), rounded up.
 */
export const MAX_OVERSHOOT_BYTES = 4608;

export class RateLimiter {
  /** Bytes the bucket holds (negative: a debt), as of `last`. */
  private tokens = 0;
  private last: number;
  private cap = 0;
  private quantum = 0;
  private changes = 0;

  /** `bytesPerSecond`: the limit, 0 = unlimited. `now`: a clock in ms (injectable for tests). */
  constructor(private bytesPerSecond: number, private readonly now: () => number = () => performance.now()) {
    this.last = now();
    this.size();
  }

  /**
   * Changes the limit from now on. A debt is kept in bytes (it is paid at the new rate); a
   * credit larger than the new limit allows is cut.
   */
  setRate(bytesPerSecond: number): void {
    if (bytesPerSecond === this.bytesPerSecond) return;
    this.refill();
    const wasUnlimited = this.bytesPerSecond === 0;
    this.bytesPerSecond = bytesPerSecond;
    this.size();
    if (bytesPerSecond === 0 || wasUnlimited) this.tokens = 0;
    else this.tokens = Math.min(this.tokens, this.cap);
    this.changes++;
  }

  get rate(): number {
    return this.bytesPerSecond;
  }

  /** How many times the limit changed: a measurement spanning a change compares with neither limit. */
  get generation(): number {
    return this.changes;
  }

  /**
   * Bytes the next batch may write now (it may end up to one record past them): 0 while a
   * debt is being paid (wait {@link msUntilAllowed}), Infinity when unlimited.
   */
  allowance(): number {
    if (this.bytesPerSecond === 0) return Infinity;
    this.refill();
    // below one byte owed is rounding, not debt
    if (this.tokens <= -1) return 0;
    return Math.max(1, this.tokens + this.quantum);
  }

  /** Milliseconds until {@link allowance} is above 0. */
  msUntilAllowed(): number {
    if (this.bytesPerSecond === 0) return 0;
    this.refill();
    return this.tokens <= -1 ? (-this.tokens * 1000) / this.bytesPerSecond : 0;
  }

  /** Charges bytes written. */
  account(bytes: number): void {
    if (this.bytesPerSecond === 0) return;
    this.refill();
    this.tokens -= bytes;
  }

  /** Bytes of credit saved before now (0 when unlimited or in debt). */
  credit(): number {
    if (this.bytesPerSecond === 0) return 0;
    this.refill();
    return Math.max(0, this.tokens);
  }

  private refill(): void {
    const t = this.now();
    if (this.bytesPerSecond > 0 && t > this.last) this.tokens = Math.min(this.cap, this.tokens + ((t - this.last) * this.bytesPerSecond) / 1000);
    this.last = t;
  }

  /** Two thirds of the slack left after one record is credit (late starts), one third quantum. */
  private size(): void {
    const slack = Math.max(0, this.bytesPerSecond * SLACK - MAX_OVERSHOOT_BYTES);
    this.cap = (slack * 2) / 3;
    this.quantum = slack / 3;
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
