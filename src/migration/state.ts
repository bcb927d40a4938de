/**
 * The source's migration states and the transitions allowed between them. The code is the
 * table: `transition()` refuses anything not listed here.
 *
 *   none ─▶ setup ─▶ active ─▶ device ─▶ completed
 *             │        │         │
 *             └────────┴─────────┴──▶ failed | cancelling ─▶ cancelled
 */
import { LivemigError } from '../errors.js';

export type MigrationStatus = 'none' | 'setup' | 'active' | 'device' | 'completed' | 'failed' | 'cancelling' | 'cancelled';

const TRANSITIONS: Readonly<Record<MigrationStatus, readonly MigrationStatus[]>> = {
  none: ['setup'],
  setup: ['active', 'failed', 'cancelling'],
  active: ['device', 'failed', 'cancelling'],
  device: ['completed', 'failed', 'cancelling'],
  cancelling: ['cancelled', 'failed'],
  completed: [],
  failed: [],
  cancelled: [],
};

export function canTransition(from: MigrationStatus, to: MigrationStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(from: MigrationStatus, to: MigrationStatus): void {
  if (!canTransition(from, to)) throw new LivemigError('MIGRATION_STATE', `migration cannot go from '${from}' to '${to}'`);
}

/** A migration in one of these states is still running. */
export function isActive(s: MigrationStatus): boolean {
  return s === 'setup' || s === 'active' || s === 'device' || s === 'cancelling';
}
