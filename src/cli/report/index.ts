/**
 * The migration report (`--report FILE.html`): a self-contained HTML page with a summary
 * table and inline SVG plots of one or more migrations side by side. Record a run with
 * {@link RunRecorder} (attach before the migration runs), then render or write the page.
 */
export { checkReportPath, renderMigrationReport, writeMigrationReport } from './page.js';
export { observeMigrations } from './observe.js';
export type { MigrationObserver, ObserveOptions } from './observe.js';
export type { ReportOptions } from './page.js';
export { RunRecorder } from './recorder.js';
export type { ProgressSample, ReportRun } from './recorder.js';
export { formatBytes, formatMs, formatRate, formatCount } from './format.js';
export { describeSettings } from './label.js';
export type { UsedSettings } from './label.js';
