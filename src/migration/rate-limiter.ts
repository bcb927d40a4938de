/**
 * The iterate stage's rate limit (`max-bandwidth`) over bytes on the wire, for a sender that
 * works in batches: it asks for an allowance, writes records until the allowance is spent
 * (ending up to one record past it), and is charged what it wrote.
 *
 * Two rules, both checked before every batch:
 *  - A token bucket whose debt carries over: it fills at the limit r; a batch may start only
 *    when nothing is owed, and may spend the bucket plus a quantum (5 ms of the limit); what
 *    it overspent is waited for, never forgotten. The bucket holds up to a tenth of a second's
 *    budget less the quantum and one record, so a batch that starts late (a timer firing late,
 *    a busy machine, a dirty-log sync) makes up for it, and no batch, the largest burst, is
 *    larger than a tenth of a second's budget.
 *  - A sliding second: the bytes charged over the last 1 s plus the next batch and its one
 *    record may not exceed a second's budget by more than 2 % (`SLACK`).
 *
 * Hence any 1 s holds at most the limit + 2 % (the limit in force at its end; QEMU's 100 ms
 * windows forget their overshoot, and a window's budget spent late plus the next ten's spent
 * early is 1.1 r), and any interval of length T at most r·T plus a tenth of a second's budget.
 * `credit()` tells a throughput measurement how much of a window's bytes were owed to time
 * before it began.
 */

/** Over any second, bytes stay within the limit plus this fraction of it. */
export const SLACK = 0.02;
/**
 * Most bytes a batch can write past its allowance: one record (a page, its header and a block
 * name of up to 255 bytes: 4363 bytes) and the batch's section framing (18), rounded up.
 */
export const MAX_OVERSHOOT_BYTES = 4608;
/** What a batch may spend beyond the bucket, in ms of the limit. */
export const QUANTUM_MS = 5;
/** The largest batch, in ms of the limit. */
export const BURST_MS = 100;
const SECOND_MS = 1000;

export class RateLimiter {
  /** Bytes the bucket holds (negative: a debt), as of `last`. */
  private tokens = 0;
  private last: number;
  private cap = 0;
  private quantum = 0;
  private changes = 0;
  /** Batches charged over the last second, oldest first from `head`, and their sum. */
  private sentAt: number[] = [];
  private sentBytes: number[] = [];
  private head = 0;
  private trailing = 0;

  /** `bytesPerSecond`: the limit, 0 = unlimited. `now`: a clock in ms (injectable for tests). */
  constructor(private bytesPerSecond: number, private readonly now: () => number = () => performance.now()) {
    this.last = now();
    this.size();
  }

  /**
   * Changes the limit from now on. A debt is kept in bytes (it is paid at the new rate); a
   * credit larger than the new limit allows is cut; after a lower limit, batches wait until
   * the last second's bytes fit it.
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
   * Bytes the next batch may write now (it may end up to one record past them): 0 while it
   * must wait ({@link msUntilAllowed}), Infinity when unlimited.
   */
  allowance(): number {
    if (this.bytesPerSecond === 0) return Infinity;
    this.refill();
    // below one byte owed is rounding, not debt
    if (this.tokens <= -1) return 0;
    const a = Math.min(this.tokens + this.quantum, this.secondLeft());
    return a >= 1 ? a : 0;
  }

  /** Milliseconds until {@link allowance} is above 0. */
  msUntilAllowed(): number {
    if (this.bytesPerSecond === 0) return 0;
    this.refill();
    const debt = this.tokens <= -1 ? (-this.tokens * 1000) / this.bytesPerSecond : 0;
    if (this.secondLeft() >= 1) return debt;
    // until enough of the last second's batches have left it (each leaves 1 s after it was charged)
    const room = this.secondBudget - MAX_OVERSHOOT_BYTES - 1;
    let sum = this.trailing;
    let k = this.head;
    while (sum > room && k < this.sentAt.length) sum -= this.sentBytes[k++]!;
    return Math.max(debt, this.sentAt[k - 1]! + SECOND_MS - this.last);
  }

  /** Charges bytes written. */
  account(bytes: number): void {
    if (this.bytesPerSecond === 0) return;
    this.refill();
    this.tokens -= bytes;
    this.sentAt.push(this.last);
    this.sentBytes.push(bytes);
    this.trailing += bytes;
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
    this.forget(t - SECOND_MS);
  }

  /** What the sliding second leaves for the next batch and its last record. */
  private secondLeft(): number {
    // a lone record must go even where it exceeds a second's budget (limits under 4.5 KiB/s)
    if (this.trailing === 0) return Infinity;
    return this.secondBudget - this.trailing - MAX_OVERSHOOT_BYTES;
  }

  private get secondBudget(): number {
    return this.bytesPerSecond * (1 + SLACK);
  }

  /** Drops the batches charged at or before `from`. */
  private forget(from: number): void {
    while (this.head < this.sentAt.length && this.sentAt[this.head]! <= from) this.trailing -= this.sentBytes[this.head++]!;
    if (this.head === this.sentAt.length) this.trailing = 0; // no rounding left over
    if (this.head > 1024 && this.head * 2 > this.sentAt.length) {
      this.sentAt = this.sentAt.slice(this.head);
      this.sentBytes = this.sentBytes.slice(this.head);
      this.head = 0;
    }
  }

  private size(): void {
    const r = this.bytesPerSecond;
    this.quantum = (r * QUANTUM_MS) / 1000;
    this.cap = Math.max(0, (r * BURST_MS) / 1000 - this.quantum - MAX_OVERSHOOT_BYTES);
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
