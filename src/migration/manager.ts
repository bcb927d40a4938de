/**
 * The source side's migration settings and its current (or last) migration: what QEMU
 * keeps in its MigrationState and what the monitors drive. Parameters and capabilities
 * persist across migrations; capabilities cannot change while one runs.
 */
import { LivemigError } from '../errors.js';
import { RamHasher } from '../guest/index.js';
import type { VirtualMachine } from '../guest/index.js';
import { parseMigrationUri } from '../transport/index.js';
import type { OutgoingOptions } from '../transport/index.js';
import { DEFAULT_CAPABILITIES, DEFAULT_PARAMETERS, MAX_TIMEOUT_MS, checkParameter } from './parameters.js';
import type { MigrationCapabilities, MigrationParameters } from './parameters.js';
import { OutgoingMigration } from './source.js';
import type { MigrationStatus } from './state.js';
import type { MigrationInfo } from './stats.js';

/** Auto-converge parameters that may change while a migration runs. */
const LIVE_THROTTLE_PARAMETERS: readonly (keyof MigrationParameters)[] = ['throttle-trigger-threshold', 'cpu-throttle-initial', 'cpu-throttle-increment', 'max-cpu-throttle'];

export interface MigrateOptions {
  /** Turn delta compression on for this and later migrations (XBRLE (2011)'s `migrate -x`). */
  xbzrle?: boolean;
  /** Force a switchover after this many passes (0 = never). */
  maxPasses?: number;
}

export class SourceManager {
  readonly parameters: MigrationParameters = { ...DEFAULT_PARAMETERS };
  readonly capabilities: MigrationCapabilities = { ...DEFAULT_CAPABILITIES };
  current: OutgoingMigration | undefined;
  /**
   * Transport options for every migration (TLS credentials, connect timeout). Stall timeouts set
   * here win over the `read-timeout` / `write-timeout` parameters.
   */
  transport: Omit<OutgoingOptions, 'signal'> = {};
  private readonly listeners: ((m: OutgoingMigration) => void)[] = [];
  /** The RAM digest worker of every migration of this guest (none for memory a worker cannot read). */
  private hasher: RamHasher | undefined;

  constructor(readonly guest: VirtualMachine) {
    // the RAM digest worker starts now, not at a migration's setup: its start-up took ~50 ms
    // of CPU from the first pass when cores are few; it ends with the guest
    if (guest.status !== 'stopped' && RamHasher.canHash(guest.memory)) {
      this.hasher = RamHasher.start(guest.memory);
      const onStatus = (s: string): void => {
        if (s !== 'stopped') return;
        guest.off('status', onStatus);
        this.close();
      };
      guest.on('status', onStatus);
    }
  }

  /**
   * Resolves once the guest's RAM digest worker has started (at once without one). A
   * migration may start before; one started after does not share its first pass's CPU with
   * the worker's start-up, as happens when a manager is made and used at once.
   */
  ready(): Promise<void> {
    return this.hasher?.ready ?? Promise.resolve();
  }

  /** Ends the RAM digest worker (also done when the guest stops); a running migration is cancelled. */
  close(): void {
    this.cancel();
    const h = this.hasher;
    this.hasher = undefined;
    void h?.close();
  }

  get running(): boolean {
    return this.current?.active ?? false;
  }

  /** Called with each new migration (monitors subscribe to its events). */
  onMigration(fn: (m: OutgoingMigration) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Starts a migration. Resolves with the final status when it ends (never rejects for a
   * migration failure); throws at once if one is already running or the URI is bad.
   */
  migrate(uri: string, options: MigrateOptions = {}): { migration: OutgoingMigration; done: Promise<MigrationStatus> } {
    if (this.running) throw new LivemigError('MIGRATION_STATE', "There's a migration process in progress");
    if (this.guest.status === 'stopped') throw new LivemigError('GUEST_STATE', 'the guest has been stopped');
    parseMigrationUri(uri); // a bad URI is an error now, not a failed migration
    if (options.xbzrle) this.capabilities.xbzrle = true;
    const transport = {
      ...this.transport,
      readTimeoutMs: this.transport.readTimeoutMs ?? timeoutMs(this.parameters['read-timeout']),
      writeTimeoutMs: this.transport.writeTimeoutMs ?? timeoutMs(this.parameters['write-timeout']),
      // a stall names the parameter the user set (migrate_set_parameter), not the transport's option
      timeoutNames: {
        ...(this.transport.readTimeoutMs === undefined ? { read: 'read-timeout' } : {}),
        ...(this.transport.writeTimeoutMs === undefined ? { write: 'write-timeout' } : {}),
        ...this.transport.timeoutNames,
      },
    };
    const m = new OutgoingMigration({
      guest: this.guest,
      parameters: { ...this.parameters },
      capabilities: { ...this.capabilities },
      transport,
      // the destination's confirmation is the source's one expected read (a timer cannot hold Infinity)
      replyTimeoutMs: Math.min(transport.readTimeoutMs, MAX_TIMEOUT_MS),
      ...(options.maxPasses !== undefined ? { maxPasses: options.maxPasses } : {}),
      ...(this.hasher ? { hasher: this.hasher } : {}),
    });
    this.current = m;
    for (const fn of this.listeners) fn(m);
    return { migration: m, done: m.run(uri) };
  }

  cancel(): void {
    this.current?.cancel();
  }

  setCapability(name: keyof MigrationCapabilities, on: boolean): void {
    if (this.running) throw new LivemigError('MIGRATION_STATE', "There's a migration process in progress");
    this.capabilities[name] = on;
  }

  /** Sets a parameter; bandwidth and downtime also apply to a running migration. */
  setParameter<K extends keyof MigrationParameters>(name: K, value: unknown): void {
    const v = this.checkChange(name, value);
    this.parameters[name] = v;
    if (this.running) {
      if (name === 'max-bandwidth') this.current!.setMaxBandwidth(v as number);
      if (name === 'downtime-limit') this.current!.setDowntimeLimit(v as number);
      // auto-converge reads these at each decision, as QEMU does
      if (LIVE_THROTTLE_PARAMETERS.includes(name)) this.current!.parameters[name] = v;
    }
  }

  /**
   * Sets several parameters at once (QMP's migrate-set-parameters): every value is checked
   * first, so a bad one changes none of them.
   * @throws InvalidArgumentError / LivemigError `MIGRATION_STATE` naming the first bad parameter.
   */
  setParameters(values: { [K in keyof MigrationParameters]?: unknown }): void {
    const names = Object.keys(values) as (keyof MigrationParameters)[];
    for (const name of names) this.checkChange(name, values[name]);
    for (const name of names) this.setParameter(name, values[name]);
  }

  private checkChange<K extends keyof MigrationParameters>(name: K, value: unknown): MigrationParameters[K] {
    const v = checkParameter(name, value);
    if (this.running && name !== 'max-bandwidth' && name !== 'downtime-limit' && name !== 'xbzrle-cache-size' && !LIVE_THROTTLE_PARAMETERS.includes(name)) {
      throw new LivemigError('MIGRATION_STATE', `'${name}' cannot change while a migration is running`);
    }
    return v;
  }

  info(): MigrationInfo {
    return this.current?.info() ?? {};
  }
}

/** A timeout parameter as the transport takes it: 0 (no timeout) is Infinity. */
function timeoutMs(parameter: number): number {
  return parameter === 0 ? Infinity : parameter;
}
