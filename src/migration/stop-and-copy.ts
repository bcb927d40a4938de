/**
 * The stop-and-copy pass's RAM: every page still dirty, sent while the guest is paused, handed
 * to the transport in pieces small enough that the destination loads the first pages while
 * the source encodes the rest.
 */
import type { MigrationCounters } from './stats.js';
import type { OutgoingStream } from './outgoing-stream.js';
import type { RamSender } from './ram-sender.js';

/** Flush to the transport once this much is buffered, so memory stays bounded. */
export const FLUSH_BYTES = 1 << 20;

/**
 * In the stop-and-copy pass, also flush after this many pages: deltas and ZERO records of a
 * few bytes would otherwise fill a megabyte only after tens of thousands of pages, and the
 * destination would wait idle for the first of them (a 128 MiB PC's 32,000 deltas: ~24 ms)
 * instead of loading while the rest are encoded.
 */
export const DOWNTIME_FLUSH_PAGES = 1024;

/**
 * Sends the pages `ram` holds dirty into `out`, flushing every {@link FLUSH_BYTES} and every
 * {@link DOWNTIME_FLUSH_PAGES} pages. `beforeBatch` runs before each batch (it throws to cancel);
 * `afterBatch` after each batch is written, and again once it is flushed; `halted` ends a batch
 * early (a cancel, a failed transport).
 */
export async function sendStopAndCopyPages(
  ram: RamSender,
  out: OutgoingStream,
  counters: MigrationCounters,
  hooks: { beforeBatch(): void; afterBatch(): void; halted(): boolean },
): Promise<void> {
  let flushedAtPage = counters.pagesSent;
  const stop = (): boolean => out.buffered >= FLUSH_BYTES || counters.pagesSent - flushedAtPage >= DOWNTIME_FLUSH_PAGES || hooks.halted() || out.failed;
  while (ram.remaining > 0) {
    hooks.beforeBatch();
    ram.sendPages(out.ram, stop, true);
    hooks.afterBatch();
    await out.flush();
    flushedAtPage = counters.pagesSent;
    hooks.afterBatch();
  }
}
