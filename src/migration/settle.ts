/**
 * The downtime limit is a ceiling, not a target. When what is dirty fits the limit, QEMU
 * switches over at once; livemig first asks whether one more pass would pay: at the rate the
 * guest dirtied pages since the last sync, sending what is dirty now (while the guest runs)
 * would leave at the next sync at most half the bytes it leaves now, and save at least
 * {@link MIN_SAVING_MS} of downtime. If so, the source finishes the pass and decides again
 * at the next sync. A guest that dirties little (a sparse writer switching over in the middle
 * of its first pass, with most of RAM unsent) so pauses for its last few pages instead of
 * for the rest of RAM; a guest that rewrites its RAM as fast as it is sent gains nothing from
 * waiting and switches over as before.
 *
 * A deferral is a prediction: one whose pass did not at least shrink what is dirty to
 * {@link MAX_DEFERRED_SHARE} ends settling, so a wrong guess costs one pass, and the number
 * of deferrals in a row is capped. The limit itself is never relaxed: a deferral happens only
 * where the migration could have switched over within it, and the next sync decides again
 * against the same threshold.
 */

/** A saving smaller than this is not worth a pass. */
export const MIN_SAVING_MS = 1;
/** A deferred pass must leave at most this share of the bytes it was deferred for. */
export const MAX_DEFERRED_SHARE = 0.75;
/** Deferrals in a row, at most. */
export const MAX_DEFERRALS = 8;

/** What the source knows at a sync where what is dirty fits the limit. */
export interface SettleInput {
  /** The wire bytes of what is dirty now, priced by fate. */
  pendingBytes: number;
  /** Pages the last sync found newly dirty, and the ms since the sync before it. */
  dirtiedPages: number;
  intervalMs: number;
  /** Wire bytes a re-dirtied page costs (the price found at this sync). */
  bytesPerDirtyPage: number;
  /** The iterate stage's bandwidth (rate limit included) and the final stage's, bytes per ms. */
  iterateBytesPerMs: number;
  finalBytesPerMs: number;
  /** A pass's fixed work besides sending (the dirty-log sync), in ms. */
  passOverheadMs: number;
}

/** The bytes the next sync is expected to find dirty if the source sends what is dirty now first. */
export function predictedNextBytes(i: SettleInput): number {
  const bw = i.iterateBytesPerMs > 0 ? i.iterateBytesPerMs : i.finalBytesPerMs;
  if (!(bw > 0) || !(i.intervalMs > 0)) return Infinity;
  const passMs = i.pendingBytes / bw + i.passOverheadMs;
  return (i.dirtiedPages / i.intervalMs) * passMs * i.bytesPerDirtyPage;
}

/** True when sending what is dirty now before switching over is expected to halve the downtime's RAM part. */
export function anotherPassPays(i: SettleInput): boolean {
  if (!(i.finalBytesPerMs > 0)) return false;
  const next = predictedNextBytes(i);
  return next <= i.pendingBytes / 2 && (i.pendingBytes - next) / i.finalBytesPerMs >= MIN_SAVING_MS;
}

/** The source's settling state across syncs: which deferrals were made and whether they paid. */
export class Settling {
  private deferredBytes = 0;
  private deferrals = 0;

  /** True while a deferral waits for the end of its pass (no early sync between batches). */
  get active(): boolean {
    return this.deferrals > 0;
  }

  /**
   * At a sync where what is dirty fits the limit: true to send it first and decide again at
   * the next sync, false to switch over now.
   */
  defer(i: SettleInput): boolean {
    const paid = this.deferrals === 0 || i.pendingBytes <= this.deferredBytes * MAX_DEFERRED_SHARE;
    if (!paid || this.deferrals >= MAX_DEFERRALS || !anotherPassPays(i)) return false;
    this.deferrals++;
    this.deferredBytes = i.pendingBytes;
    return true;
  }

  /** At a sync where what is dirty does not fit: back to the plain rule. */
  reset(): void {
    this.deferrals = 0;
    this.deferredBytes = 0;
  }
}
