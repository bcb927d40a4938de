/**
 * What a report needs from one migration: its final query-migrate snapshot, its pass
 * records, and progress samples taken while it ran (for the plots over time). A
 * RunRecorder attached before `run()` starts collects the samples.
 */
import type { MigrationCapabilities, MigrationInfo, MigrationParameters, MigrationStatus, OutgoingMigration, PassRecord } from '../../migration/index.js';

/** One point of a migration's progress. */
export interface ProgressSample {
  /** Milliseconds since the migration started (query-migrate `total-time`). */
  tMs: number;
  transferredBytes: number;
  /** Dirty RAM still to send (query-migrate `ram.remaining`). */
  remainingBytes: number;
  /** The pass running (1, 2, 3, ...; not QEMU's dirty-sync-count, which counts syncs). */
  pass: number;
  status: MigrationStatus;
}

/** One migration as the report draws it. */
export interface ReportRun {
  label: string;
  /** The final query-migrate snapshot (`OutgoingMigration.info()` after the end). */
  info: MigrationInfo;
  passes: readonly PassRecord[];
  /** Progress over time; without it, throughput is drawn from the pass records. */
  samples?: readonly ProgressSample[];
  /** The migration's parameters: the downtime limit and link speed are drawn as references. */
  parameters?: Partial<MigrationParameters>;
  /** The migration's capabilities (what it used: delta compression, auto-xbzrle, auto-converge). */
  capabilities?: Partial<MigrationCapabilities>;
  /** Whether the source's and the destination's RAM digests matched, when checked. */
  digestsMatch?: boolean;
}

const TERMINAL: readonly string[] = ['completed', 'failed', 'cancelled'];

/**
 * Samples a migration's progress from its events and a timer (the timer also covers the
 * stop-and-copy stage, which emits no `progress` events). Attach before `run()`; the timer
 * is unref'd and stops itself when the migration ends.
 */
export class RunRecorder {
  readonly samples: ProgressSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly onEvent = (): void => this.sample();
  private readonly onStatus = (s: MigrationStatus): void => {
    this.sample();
    if (TERMINAL.includes(s)) this.detach();
  };

  constructor(private readonly migration: OutgoingMigration, readonly label: string, intervalMs = 100) {
    migration.on('progress', this.onEvent);
    migration.on('pass', this.onEvent);
    migration.on('pass-end', this.onEvent);
    migration.on('status', this.onStatus);
    this.timer = setInterval(this.onEvent, intervalMs);
    this.timer.unref();
  }

  /** Stops sampling (idempotent); the samples stay. */
  detach(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.migration.off('progress', this.onEvent);
    this.migration.off('pass', this.onEvent);
    this.migration.off('pass-end', this.onEvent);
    this.migration.off('status', this.onStatus);
  }

  /** The run for the report, from the migration as it is now (call after it ended). */
  result(extra: { digestsMatch?: boolean } = {}): ReportRun {
    this.detach();
    return {
      label: this.label,
      info: this.migration.info(),
      passes: [...this.migration.passes],
      samples: [...this.samples],
      parameters: { ...this.migration.parameters },
      capabilities: { ...this.migration.capabilities },
      ...(extra.digestsMatch !== undefined ? { digestsMatch: extra.digestsMatch } : {}),
    };
  }

  private sample(): void {
    const i = this.migration.info();
    // setup is skipped: its status event comes before the migration's clock starts, so its total-time is not since the start
    if (i.status === undefined || i.status === 'none' || i.status === 'setup' || i.ram === undefined) return;
    const s: ProgressSample = {
      tMs: i['total-time'] ?? 0,
      transferredBytes: i.ram.transferred,
      remainingBytes: i.ram.remaining,
      pass: i.livemig?.pass ?? i.ram['dirty-sync-count'],
      status: i.status,
    };
    const last = this.samples[this.samples.length - 1];
    if (last && last.tMs === s.tMs && last.transferredBytes === s.transferredBytes && last.remainingBytes === s.remainingBytes && last.status === s.status) return;
    this.samples.push(s);
  }
}
