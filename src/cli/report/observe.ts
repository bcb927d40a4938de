/**
 * Everything `--telemetry`, `--report` and the progress bar need, for every migration a
 * SourceManager starts (what `livemig run` wires in one call): a bar on a terminal, a JSON
 * line per pass, and an HTML report of all migrations so far, rewritten as each one ends
 * (so it exists even if the process is killed later).
 */
import type { OutgoingMigration, SourceManager } from '../../migration/index.js';
import { attachProgressBar } from '../progress.js';
import type { ProgressStream } from '../progress.js';
import { TelemetryFile } from '../telemetry-file.js';
import { describeSettings } from './label.js';
import { checkReportPath, writeMigrationReport } from './page.js';
import type { ReportOptions } from './page.js';
import { RunRecorder } from './recorder.js';
import type { ReportRun } from './recorder.js';

export interface ObserveOptions {
  /** Draw a progress bar here while a migration runs (only if it is a TTY). */
  progress?: ProgressStream;
  /** With `progress`: which migrations get a bar, asked as each one starts (default: all). */
  progressFor?: (m: OutgoingMigration) => boolean;
  /** Write a JSON line per pass here (created or truncated now). */
  telemetry?: string;
  /** Write the HTML report here after each migration. */
  report?: string;
  reportOptions?: ReportOptions;
  /** A report that could not be written (default: a line on standard error). */
  onError?: (e: Error) => void;
}

export interface MigrationObserver {
  /** The runs recorded so far (one per ended migration). */
  readonly runs: readonly ReportRun[];
  /** Resolves once every report write started so far has finished. */
  flushed(): Promise<void>;
  /**
   * Stops observing new migrations, waits for pending report writes and closes the
   * telemetry file.
   * @throws Error when a telemetry write failed (the file is incomplete).
   */
  close(): Promise<void>;
}

/**
 * Observes every migration `source` starts from now on.
 * @throws InvalidArgumentError when the telemetry file cannot be created or the report's
 *   folder is not writable (before anything runs).
 */
export function observeMigrations(source: Pick<SourceManager, 'onMigration'>, o: ObserveOptions): MigrationObserver {
  if (o.report !== undefined) checkReportPath(o.report, '--report');
  const telemetry = o.telemetry !== undefined ? new TelemetryFile(o.telemetry) : undefined;
  const onError = o.onError ?? ((e: Error) => process.stderr.write(`livemig: ${e.message}\n`));
  const runs: ReportRun[] = [];
  let writes: Promise<void> = Promise.resolve();
  let closed = false;
  const pending = new Set<OutgoingMigration>(); // started, not yet ended
  source.onMigration((m: OutgoingMigration) => {
    if (closed) return;
    const name = `migration ${runs.length + pending.size + 1}`;
    // what it runs with, read from the migration itself (its capabilities are fixed while it runs)
    const label = `${name}: ${describeSettings({ capabilities: m.capabilities, parameters: m.parameters })}`;
    pending.add(m);
    const recorder = new RunRecorder(m, label);
    telemetry?.attach(m, label);
    if (o.progress && (o.progressFor?.(m) ?? true)) attachProgressBar(m, o.progress);
    const onStatus = (s: string) => {
      if (s !== 'completed' && s !== 'failed' && s !== 'cancelled') return;
      m.off('status', onStatus);
      pending.delete(m);
      const run = recorder.result(m.destinationDigest !== undefined ? { digestsMatch: m.destinationDigest === m.ramDigest } : {});
      // the report's label adds what only the end tells: the pass at which auto-xbzrle switched delta compression off
      runs.push({ ...run, label: `${name}: ${describeSettings(run)}` });
      if (o.report !== undefined) {
        const path = o.report;
        const snapshot = [...runs];
        writes = writes.then(() => writeMigrationReport(path, snapshot, o.reportOptions).catch((e: unknown) => onError(new Error(`cannot write the report to ${path}: ${(e as Error).message}`, { cause: e }))));
      }
    };
    m.on('status', onStatus);
  });
  return {
    runs,
    flushed: () => writes,
    async close() {
      closed = true;
      await writes;
      telemetry?.close();
    },
  };
}
