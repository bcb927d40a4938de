/**
 * A one-line progress bar for an outgoing migration on a terminal:
 *
 *   pass 3 ▕██████████░░░░░░▏ 62 % │ sent 12.3 MiB │ dirty 3.1 MiB │ dirtying 2.5 MiB/s │ exp. downtime 240 ms
 *
 * The bar is the share of this pass's pages handled so far: pages dirty when the pass
 * started (query-migrate `ram.remaining` right after the sync that starts it, read on the
 * `pass` event) against those still dirty now. The dirty rate is what the sync that started
 * the pass found, over the last pass's duration. It draws only on a TTY: on a pipe or a file
 * it prints nothing at all, so logs and `--json` output stay clean.
 */
import { SingleBar } from 'cli-progress';
import type { MigrationInfo, MigrationStatus, OutgoingMigration, PassRecord } from '../migration/index.js';
import { formatBytes, formatMs, formatRate } from './report/format.js';

/** What one line of the bar shows. */
export interface ProgressState {
  status: MigrationStatus;
  pass: number;
  /** Pages dirty when this pass started. */
  passPages: number;
  /** Pages still dirty now. */
  remainingPages: number;
  transferredBytes: number;
  dirtyBytesPerSecond: number;
  expectedDowntimeMs: number;
  totalTimeMs: number;
  /** Set once completed. */
  downtimeMs?: number;
  /** Set once completed: the expected downtime the switchover was decided on. */
  expectedAtSwitchoverMs?: number;
  /** In stop-and-copy: how long the guest has been paused so far. */
  pausedMs?: number;
  forced?: boolean;
}

/** Share of this pass done, 0..1 (1 when the pass had nothing to send, 0 when none started). */
export function passFraction(s: ProgressState): number {
  if (s.status === 'completed') return 1;
  if (s.status === 'setup' || s.status === 'none') return 0;
  if ((s.status === 'failed' || s.status === 'cancelled') && s.passPages <= 0) return 0;
  if (s.passPages <= 0) return s.remainingPages > 0 ? 0 : 1;
  return Math.min(1, Math.max(0, (s.passPages - s.remainingPages) / s.passPages));
}

/** The bar's text for `state`, at most `columns` characters wide. */
export function progressLine(s: ProgressState, columns = 100): string {
  if (s.status === 'failed' || s.status === 'cancelled') {
    // no bar and no percentage: the share of a pass says nothing about a migration that did not
    // complete (a refused connection, with no pass at all, would read "100 %")
    const where = s.pass > 0 ? `${s.status} in pass ${s.pass}` : `${s.status} before the first pass`;
    const fields = [where, `sent ${formatBytes(s.transferredBytes)}`, `after ${formatMs(s.totalTimeMs)}`];
    let n = fields.length;
    while (n > 1 && fields.slice(0, n).join(' │ ').length > columns) n--;
    return fields.slice(0, n).join(' │ ').slice(0, columns);
  }
  const pct = `${String(Math.floor(passFraction(s) * 100)).padStart(3)} %`;
  const stage = s.status === 'setup' ? 'setup'
    : s.status === 'device' ? `pass ${s.pass} stop-and-copy`
    : s.status === 'completed' ? 'completed'
    : `pass ${s.pass}`;
  const fields = s.status === 'completed'
    ? [`sent ${formatBytes(s.transferredBytes)}`, `in ${formatMs(s.totalTimeMs)}`, `downtime ${formatMs(s.downtimeMs ?? 0)}${s.expectedAtSwitchoverMs !== undefined ? ` (expected ${formatMs(s.expectedAtSwitchoverMs)})` : ''}${s.forced ? ' (forced)' : ''}`, `${s.pass} passes`]
    : s.status === 'device' // the guest is paused: nothing dirties, the clock that matters is the pause
    ? [`sent ${formatBytes(s.transferredBytes)}`, `dirty ${formatBytes(s.remainingPages * 4096)}`, `guest paused ${formatMs(s.pausedMs ?? 0)}`, `exp. downtime ${formatMs(s.expectedDowntimeMs)}`]
    : [`sent ${formatBytes(s.transferredBytes)}`, `dirty ${formatBytes(s.remainingPages * 4096)}`, `dirtying ${formatRate(s.dirtyBytesPerSecond)}`, `exp. downtime ${formatMs(s.expectedDowntimeMs)}`];
  // drop fields from the right until the line fits, then give the bar what is left
  const text = (n: number) => [pct, ...fields.slice(0, n)].join(' │ ');
  let n = fields.length;
  while (n > 0 && stage.length + 1 + text(n).length + 10 > columns) n--;
  const room = columns - stage.length - text(n).length - 4;
  const barWidth = Math.min(24, room);
  if (barWidth < 6) return `${stage} ${text(n)}`.slice(0, columns);
  const filled = Math.round(passFraction(s) * barWidth);
  return `${stage} ▕${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}▏ ${text(n)}`;
}

/**
 * The progress state from a query-migrate snapshot, with `passPages` as counted at the last
 * pass start and, when known, the dirty rate measured over the last pass (query-migrate's
 * `dirty-pages-rate` is updated only once a second has passed between syncs).
 */
export function progressState(info: MigrationInfo, passPages: number, forced = false, dirtyBytesPerSecond?: number): ProgressState {
  const ram = info.ram;
  return {
    status: info.status ?? 'none',
    // passes 1, 2, 3, ...; dirty-sync-count is one ahead once the guest is stopped
    pass: info.livemig?.pass ?? ram?.['dirty-sync-count'] ?? 0,
    passPages,
    remainingPages: Math.round((ram?.remaining ?? 0) / 4096),
    transferredBytes: ram?.transferred ?? 0,
    dirtyBytesPerSecond: dirtyBytesPerSecond ?? (ram?.['dirty-pages-rate'] ?? 0) * 4096,
    expectedDowntimeMs: info['expected-downtime'] ?? 0,
    totalTimeMs: info['total-time'] ?? 0,
    ...(info.downtime !== undefined ? { downtimeMs: info.downtime } : {}),
    ...(info.livemig?.['expected-downtime-at-switchover'] !== undefined ? { expectedAtSwitchoverMs: info.livemig['expected-downtime-at-switchover'] } : {}),
    forced,
  };
}

/** A stream the bar may draw on: a TTY (or a test's stand-in with `isTTY: true`). */
export type ProgressStream = Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean; columns?: number };

const REFRESH_MS = 200;
const TERMINAL: readonly MigrationStatus[] = ['completed', 'failed', 'cancelled'];

/**
 * Draws a progress bar for `migration` on `stream` until it ends (then leaves a final
 * summary line). Does nothing, and writes nothing, when `stream` is not a TTY. Attach
 * before or after `run()` starts. Returns a function that detaches the bar (idempotent).
 */
export function attachProgressBar(migration: OutgoingMigration, stream: ProgressStream = process.stderr): () => void {
  if (stream.isTTY !== true) return () => undefined;
  let passPages = 0;
  let lastPass: PassRecord | undefined;
  let dirtyRate: number | undefined;
  let pausedAt: number | undefined;
  const state = (): ProgressState => {
    const st = progressState(migration.info(), passPages, migration.forced, dirtyRate);
    return pausedAt !== undefined ? { ...st, pausedMs: performance.now() - pausedAt } : st;
  };
  const bar = new SingleBar({
    stream: stream as NodeJS.WritableStream,
    format: (_o, params) => progressLine(state(), Math.max(20, params.maxWidth - 1)),
    hideCursor: false, // a killed process must not leave the terminal without a cursor
    gracefulExit: false, // cli-progress would swallow Ctrl-C
    clearOnComplete: false,
    linewrap: true, // true: no terminal mode change (false would send DECAWM off); lines are cut to the width
    fps: 1000 / REFRESH_MS,
  });
  let running = false;
  const start = () => {
    if (running || migration.status === 'none') return;
    running = true;
    bar.start(1, 0);
  };
  const redraw = () => {
    start();
    if (running) bar.update(passFraction(state()));
  };
  const onPassEnd = (r: PassRecord) => {
    lastPass = r;
  };
  const onPass = () => {
    // called right after the sync that starts a pass: what is dirty now is this pass's work,
    // and what the sync added was written by the guest during the last pass
    passPages = Math.round((migration.info().ram?.remaining ?? 0) / 4096);
    if (lastPass && lastPass.endMs - lastPass.startMs >= 20) dirtyRate = (Math.max(0, passPages - lastPass.remainingPages) * 4096 * 1000) / (lastPass.endMs - lastPass.startMs);
    redraw();
  };
  const onStatus = (s: MigrationStatus) => {
    if (s === 'device') pausedAt = performance.now(); // the source pauses the guest as it enters this state
    redraw();
    if (TERMINAL.includes(s)) detach();
  };
  migration.on('pass-end', onPassEnd);
  migration.on('pass', onPass);
  migration.on('progress', redraw);
  migration.on('status', onStatus);
  const timer = setInterval(redraw, REFRESH_MS);
  timer.unref();
  let attached = true;
  function detach(): void {
    if (!attached) return;
    attached = false;
    clearInterval(timer);
    migration.off('pass-end', onPassEnd);
    migration.off('pass', onPass);
    migration.off('progress', redraw);
    migration.off('status', onStatus);
    if (running) {
      bar.update(passFraction(state()));
      bar.stop(); // draws the last line and ends it with a newline
      running = false;
    }
  }
  if (migration.active) {
    passPages = Math.round((migration.info().ram?.remaining ?? 0) / 4096);
    start();
  }
  return detach;
}
