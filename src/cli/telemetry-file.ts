/**
 * `--telemetry FILE`: one JSON object per line, one line per finished pass (the last line
 * of a migration is its stop-and-copy stage). A line is a PassRecord, plus `run` when the
 * file holds several migrations (the demo's) and `cacheMissRate` (misses per lookup):
 *
 *   {"run":"XBZRLE","pass":2,"dirtySyncCount":2,"stage":"iterate","startMs":2103,"endMs":4013,
 *    "pages":{"zero":27,"normal":1893,"delta":0,"unchanged":0},
 *    "bytes":{"zero":243,"normal":7753728,"delta":0,"total":7769223},"dirtyPages":1920,
 *    "cacheHits":0,"cacheMisses":1765,"overflows":0,"encodingRate":0,
 *    "bandwidthBytesPerSecond":4068295,"expectedDowntimeMs":130,"remainingPages":128,"cacheMissRate":1}
 *
 * The stop-and-copy's line comes once the downtime is known: its `expectedDowntimeMs` is the
 * expected downtime the switchover was decided on, and `downtimeMs` the downtime it took.
 *
 * Lines are written synchronously as each pass ends, so a crash loses nothing already
 * written. Numbers are always finite (NaN or Infinity would become null in JSON; they are
 * written as 0). A write error never reaches the migration: it is kept and thrown by
 * `close()`.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { InvalidArgumentError } from '../errors.js';
import type { OutgoingMigration, PassRecord } from '../migration/index.js';

/** A PassRecord as one JSON line: `run` first when given, `cacheMissRate` added. */
export function telemetryLine(record: PassRecord, run?: string): string {
  const lookups = record.cacheHits + record.cacheMisses;
  const line = {
    ...(run !== undefined ? { run } : {}),
    ...record,
    cacheMissRate: lookups > 0 ? Math.round((record.cacheMisses / lookups) * 1e4) / 1e4 : 0,
  };
  return JSON.stringify(line, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? 0 : v)) + '\n';
}

export class TelemetryFile {
  private fd: number | undefined;
  private failure: Error | undefined;
  /** Lines written so far. */
  lines = 0;

  /**
   * Creates (or truncates) `path`.
   * @throws InvalidArgumentError when the file cannot be opened for writing.
   */
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch (e) {
      throw new InvalidArgumentError(`cannot write telemetry to ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Writes a line for each pass of `migration` as it ends, labelled `run` when given.
   * Returns a function that stops (idempotent); it also stops when the migration ends.
   */
  attach(migration: OutgoingMigration, run?: string): () => void {
    const onPass = (r: PassRecord) => this.write(r, run);
    const onStatus = (s: string) => {
      if (s === 'completed' || s === 'failed' || s === 'cancelled') detach();
    };
    const detach = () => {
      migration.off('pass-end', onPass);
      migration.off('status', onStatus);
    };
    migration.on('pass-end', onPass);
    migration.on('status', onStatus);
    return detach;
  }

  /** Writes one record's line (ignored after close or after a write error). */
  write(record: PassRecord, run?: string): void {
    if (this.fd === undefined || this.failure) return;
    try {
      writeSync(this.fd, telemetryLine(record, run));
      this.lines++;
    } catch (e) {
      this.failure = e as Error;
    }
  }

  /**
   * Closes the file (idempotent).
   * @throws Error (with the file system's error as `cause`) when an earlier write failed:
   *   the file is incomplete.
   */
  close(): void {
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      try {
        closeSync(fd);
      } catch (e) {
        this.failure ??= e as Error;
      }
    }
    if (this.failure) throw new Error(`telemetry file ${this.path} is incomplete: ${this.failure.message}`, { cause: this.failure });
  }
}
