/**
 * Judges whether delta compression pays for itself, window by window, for reporting and for
 * the `auto-xbzrle` capability (switch it off for the rest of the migration when it does not).
 *
 * The measure is the gain on the wire over the non-zero pages of a window: what they would
 * have cost sent whole (`pages * (4096 + 8)`) divided by what they did cost (whole pages for
 * misses and overflows, records for deltas, nothing for unchanged pages). Misses (a cache
 * too small for the hot set) and overflows (dense rewrites, QEMU's low `encoding-rate`) both
 * drive it to 1; below {@link DELTA_MIN_GAIN} the cache and the encoder cost CPU for little.
 * QEMU added `encoding-rate` so that users could "dynamically turn off the encoding if the
 * encoding rate is low" (the QEMU commit that added it); this does it.
 *
 * The first window starts at the first dirty-log sync after delta encoding began: the pass
 * before it inserted every page into the cache (misses by construction), so it says nothing.
 */
import type { MigrationCounters } from './stats.js';
import { diffCounters, snapshotCounters } from './counters.js';
import type { CountersSnapshot } from './counters.js';

/** Below this wire gain, delta compression "hurts": it saves less than a fifth of the bytes. */
export const DELTA_MIN_GAIN = 1.25;
/** Non-zero pages a window needs before it is judged at a sync. */
const MIN_PAGES_AT_SYNC = 256;
/** Non-zero pages after which a window is judged without waiting for the pass to end. */
const MIN_PAGES_MID_PASS = 4096;
export interface DeltaAssessment {
  verdict: 'helps' | 'hurts';
  /** Whole-page wire bytes of the window's non-zero pages ÷ the bytes they cost (1 = no gain). */
  gain: number;
  /** QEMU's encoding-rate over the window: page bytes of cache hits ÷ their delta bytes. */
  encodingRate: number;
  /** Misses ÷ (hits + misses) in the window. */
  cacheMissRate: number;
  /** Overflows ÷ hits in the window. */
  overflowRate: number;
  /** Non-zero pages in the window. */
  pages: number;
  /** The pass (1, 2, 3, ...) in which it was judged. */
  pass: number;
}

export class DeltaGuard {
  /** The latest judgement, if any window was judged. */
  last: DeltaAssessment | undefined;
  private mark: CountersSnapshot | undefined;

  constructor(private readonly counters: Readonly<MigrationCounters>) {}

  /** At a dirty-log sync at `now`. Returns a judgement when the window that ends here was big enough. */
  onSync(deltaStarted: boolean, pass: number, now: number): DeltaAssessment | undefined {
    if (!deltaStarted) return undefined;
    if (!this.mark) {
      this.mark = snapshotCounters(this.counters, now);
      return undefined;
    }
    return this.judge(MIN_PAGES_AT_SYNC, pass, now);
  }

  /** Between batches: judges a window that has grown big without a sync. */
  poll(pass: number, now: number): DeltaAssessment | undefined {
    return this.mark ? this.judge(MIN_PAGES_MID_PASS, pass, now) : undefined;
  }

  private judge(minPages: number, pass: number, now: number): DeltaAssessment | undefined {
    const c = this.counters;
    const m = this.mark!;
    // checked on the live counters first: no snapshot for a window still too small
    if (c.normal - m.normal + (c.xbzrleRecords - m.xbzrleRecords) + (c.skipped - m.skipped) < minPages) return undefined;
    const end = snapshotCounters(c, now);
    const d = diffCounters(m, end);
    const r: DeltaAssessment = {
      verdict: d.wireGain < DELTA_MIN_GAIN ? 'hurts' : 'helps',
      gain: round(d.wireGain),
      encodingRate: round(d.encodingRate),
      cacheMissRate: round(d.missesPerLookup),
      overflowRate: round(d.overflowRate),
      pages: d.pages.normal + d.pages.delta + d.pages.unchanged,
      pass,
    };
    this.last = r;
    this.mark = end;
    return r;
  }
}

/** A human line for logs and reports. */
export function describeAssessment(a: DeltaAssessment): string {
  return `delta compression ${a.verdict} in pass ${a.pass}: wire gain ${a.gain}x over ${a.pages} pages, encoding rate ${a.encodingRate}, cache-miss rate ${a.cacheMissRate}, overflow rate ${a.overflowRate}`;
}

function round(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 100) / 100 : 0;
}
