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

/** Below this wire gain, delta compression "hurts": it saves less than a fifth of the bytes. */
export const DELTA_MIN_GAIN = 1.25;
/** Non-zero pages a window needs before it is judged at a sync. */
const MIN_PAGES_AT_SYNC = 256;
/** Non-zero pages after which a window is judged without waiting for the pass to end. */
const MIN_PAGES_MID_PASS = 4096;
const PAGE = 4096;
/** Wire bytes of a whole page record: 8-byte header + the page. */
const WHOLE_PAGE_WIRE_BYTES = PAGE + 8;
/** Gain reported when a window cost nothing at all (every page unchanged). */
const MAX_GAIN = WHOLE_PAGE_WIRE_BYTES;

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
  /** The pass (dirty-sync-count) when it was judged. */
  pass: number;
}

interface Mark {
  normal: number;
  records: number;
  recordBytes: number;
  skipped: number;
  misses: number;
  hits: number;
  overflow: number;
  xbzrleBytes: number;
}

export class DeltaGuard {
  /** The latest judgement, if any window was judged. */
  last: DeltaAssessment | undefined;
  private mark: Mark | undefined;

  constructor(private readonly counters: MigrationCounters) {}

  /** At a dirty-log sync. Returns a judgement when the window that ends here was big enough. */
  onSync(deltaStarted: boolean, pass: number): DeltaAssessment | undefined {
    if (!deltaStarted) return undefined;
    if (!this.mark) {
      this.mark = this.take();
      return undefined;
    }
    return this.judge(MIN_PAGES_AT_SYNC, pass);
  }

  /** Between batches: judges a window that has grown big without a sync. */
  poll(pass: number): DeltaAssessment | undefined {
    return this.mark ? this.judge(MIN_PAGES_MID_PASS, pass) : undefined;
  }

  private judge(minPages: number, pass: number): DeltaAssessment | undefined {
    const c = this.counters;
    const m = this.mark!;
    const normal = c.normal - m.normal;
    const records = c.xbzrleRecords - m.records;
    const skipped = c.skipped - m.skipped;
    const pages = normal + records + skipped;
    if (pages < minPages) return undefined;
    const cost = normal * WHOLE_PAGE_WIRE_BYTES + (c.xbzrleRecordBytes - m.recordBytes);
    const hits = c.xbzrlePages - m.hits;
    const misses = c.cacheMiss - m.misses;
    const xb = c.xbzrleBytes - m.xbzrleBytes;
    const gain = cost > 0 ? Math.min(MAX_GAIN, (pages * WHOLE_PAGE_WIRE_BYTES) / cost) : MAX_GAIN;
    const r: DeltaAssessment = {
      verdict: gain < DELTA_MIN_GAIN ? 'hurts' : 'helps',
      gain: round(gain),
      encodingRate: hits > 0 && xb > 0 ? round((hits * PAGE) / xb) : 0,
      cacheMissRate: hits + misses > 0 ? round(misses / (hits + misses)) : 0,
      overflowRate: hits > 0 ? round((c.overflow - m.overflow) / hits) : 0,
      pages,
      pass,
    };
    this.last = r;
    this.mark = this.take();
    return r;
  }

  private take(): Mark {
    const c = this.counters;
    return {
      normal: c.normal,
      records: c.xbzrleRecords,
      recordBytes: c.xbzrleRecordBytes,
      skipped: c.skipped,
      misses: c.cacheMiss,
      hits: c.xbzrlePages,
      overflow: c.overflow,
      xbzrleBytes: c.xbzrleBytes,
    };
  }
}

/** A human line for logs and reports. */
export function describeAssessment(a: DeltaAssessment): string {
  return `delta compression ${a.verdict} in pass ${a.pass}: wire gain ${a.gain}x over ${a.pages} pages, encoding rate ${a.encodingRate}, cache-miss rate ${a.cacheMissRate}, overflow rate ${a.overflowRate}`;
}

function round(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 100) / 100 : 0;
}
