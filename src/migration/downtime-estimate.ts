/**
 * The expected downtime: what the stop-and-copy would cost if it began now. Two parts:
 *  - the bytes the final stage would put on the wire (RamSender.priceRemaining prices each
 *    dirty page by its fate) over the bandwidth the final stage will really get. max-bandwidth
 *    limits the iterate stage only (QEMU's rule), so that is the sender's unthrottled rate:
 *    bytes per ms of a batch's own time (encode, write, flush), not per ms of the clock, which
 *    includes the rate limiter's waits; with `link-bandwidth`, the simulated link paces the
 *    final stage too, and the rate is at most the link's.
 *  - the final sync of the dirty log: the last sync's own work in this migration (a scanning
 *    log compares every page, tens of ms for a PC's RAM; an explicit log is a bitmap merge).
 *  - fixed costs: stopping the vCPUs, the device state, the RAM digest and the destination's
 *    confirmation. Measured at the end of each completed migration and kept as a running
 *    estimate for the next ones in this process; the first one uses a seed (a digest of a few
 *    MiB timed at setup, scaled to the RAM, on both sides).
 */

/** Busy time over which the final-stage rate is measured before it replaces the last figure. */
const RATE_WINDOW_MS = 200;
/** Weight of the newest migration in the running estimate of the fixed costs. */
const FIXED_WEIGHT = 0.5;
/** Below this share of the downtime limit the RAM budget never falls (see ramBudgetMs). */
const MIN_RAM_SHARE = 0.25;

/** The parts of a downtime that do not depend on the dirty pages. */
export interface FixedCosts {
  /** Stopping the vCPUs and taking the device state. */
  pauseMs: number;
  /** The digest wait and the destination's confirmation, per MiB of guest RAM. */
  checkMsPerMiB: number;
  /** The confirmation's round trip and the destination's resume. */
  confirmMs: number;
}

/**
 * What completed migrations in this process measured, by check (`verify` mode and digest
 * algorithm: their costs differ by an order of magnitude).
 */
const learned = new Map<string, FixedCosts>();

/** Forgets what earlier migrations measured (for tests). */
export function resetLearnedFixedCosts(): void {
  learned.clear();
}

/** Folds a completed migration's measured fixed costs into the running estimate for `check`. */
export function learnFixedCosts(check: string, m: FixedCosts): void {
  const w = FIXED_WEIGHT;
  const l = learned.get(check);
  learned.set(check, l === undefined ? { ...m } : {
    pauseMs: l.pauseMs * (1 - w) + m.pauseMs * w,
    checkMsPerMiB: l.checkMsPerMiB * (1 - w) + m.checkMsPerMiB * w,
    confirmMs: l.confirmMs * (1 - w) + m.confirmMs * w,
  });
}

export function learnedFixedCosts(check: string): FixedCosts | undefined {
  const l = learned.get(check);
  return l === undefined ? undefined : { ...l };
}

export interface DowntimeEstimateOptions {
  /** Guest RAM in bytes (the check's cost scales with it). */
  ramBytes: number;
  /** The simulated link's bytes per second (0: none). */
  linkBytesPerSecond: number;
  /** The check (verify mode and algorithm) whose learned costs apply. */
  check: string;
  /** Fixed costs to start from when no migration with this check has completed in this process. */
  seed: FixedCosts;
}

export class DowntimeEstimate {
  /** Final-stage bytes per ms measured over the last full window (0: none yet). */
  private rate = 0;
  private windowBytes = 0;
  private windowMs = 0;
  /** The work of the last dirty-log sync, in ms: the final stage syncs once more. */
  private syncMs = 0;
  readonly fixed: FixedCosts;

  /** True when the fixed costs come from completed migrations, not from the seed. */
  readonly learned: boolean;

  constructor(private readonly options: DowntimeEstimateOptions) {
    const l = learnedFixedCosts(options.check);
    this.learned = l !== undefined;
    this.fixed = l ?? { ...options.seed };
  }

  /** A better seed for the check's cost, measured during this migration (ignored once learned). */
  calibrateCheck(msPerMiB: number): void {
    if (!this.learned) this.fixed.checkMsPerMiB = msPerMiB;
  }

  /** A sync of the dirty log took `ms` of its own work (slices' turns of the guest excluded). */
  noteSync(ms: number): void {
    this.syncMs = ms;
  }

  /** A batch of the iterate stage: `bytes` written in `ms` of its own work (no rate-limit wait). */
  noteBatch(bytes: number, ms: number): void {
    this.windowBytes += bytes;
    this.windowMs += ms;
    if (this.windowMs >= RATE_WINDOW_MS) {
      this.rate = this.windowBytes / this.windowMs;
      this.windowBytes = 0;
      this.windowMs = 0;
    }
  }

  /**
   * Bytes per ms the final stage will get: the unthrottled rate measured (a partial window
   * before the first full one), else `fallback` (the iterate stage's measured bandwidth),
   * capped by the simulated link.
   */
  finalBandwidth(fallback: number): number {
    let bw = this.rate > 0 ? this.rate : this.windowMs >= 5 ? this.windowBytes / this.windowMs : fallback;
    const link = this.options.linkBytesPerSecond / 1000;
    if (link > 0) bw = bw > 0 ? Math.min(bw, link) : link;
    return bw;
  }

  /** The part of the downtime that does not depend on the dirty pages (the final sync's included), in ms. */
  get fixedMs(): number {
    const f = this.fixed;
    return this.syncMs + f.pauseMs + f.confirmMs + (f.checkMsPerMiB * this.options.ramBytes) / (1 << 20);
  }

  /** The expected downtime of a final stage that sends `pendingBytes`. */
  expectedMs(pendingBytes: number, fallbackBandwidth: number): number {
    const bw = this.finalBandwidth(fallbackBandwidth);
    const ram = pendingBytes === 0 ? 0 : bw > 0 ? pendingBytes / bw : Infinity;
    return ram + this.fixedMs;
  }

  /**
   * The share of `limitMs` left for sending RAM once the fixed costs are paid; never below a
   * quarter of the limit, so that a machine whose fixed costs alone exceed the limit (a large
   * RAM to check) still switches over once its RAM is small, as QEMU's rule would, with an
   * expected downtime that says it is over the limit.
   */
  ramBudgetMs(limitMs: number): number {
    return Math.max(limitMs - this.fixedMs, limitMs * MIN_RAM_SHARE);
  }

  /** Bytes the final stage may send within the downtime limit (the switchover threshold). */
  thresholdBytes(limitMs: number, fallbackBandwidth: number): number {
    return this.finalBandwidth(fallbackBandwidth) * this.ramBudgetMs(limitMs);
  }
}
