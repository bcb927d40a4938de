/**
 * What the monitors control: one guest and its side of a migration (a source's
 * SourceManager, or a destination's IncomingMigration). HMP and QMP both go through here, so
 * they agree on every check and message. Also here: QEMU's run state (`query-status`,
 * `info status`) and the events QMP clients receive.
 *
 * Events (QEMU's names and data): `MIGRATION {status}` at every status change of a migration
 * (source and destination), `MIGRATION_PASS {pass}` at every dirty-log sync, `STOP` / `RESUME`
 * when the guest pauses or runs again (by `stop`/`cont` or by a migration's switchover),
 * `SHUTDOWN {guest: false, reason: "host-qmp-quit"}` on `quit`. QEMU sends MIGRATION and
 * MIGRATION_PASS only with the `events` capability on; livemig always sends them (the
 * capability is kept for scripts that set it).
 */
import { EventEmitter } from 'node:events';
import { InvalidArgumentError, LivemigError } from '../errors.js';
import type { VirtualMachine } from '../guest/index.js';
import { DEFAULT_CAPABILITIES, DEFAULT_PARAMETERS, isCapabilityName, isParameterName } from '../migration/index.js';
import type { IncomingMigration, MigrateOptions, MigrationInfo, MigrationParameters, MigrationStatus, OutgoingMigration, SourceManager } from '../migration/index.js';
import { parseMigrationUri } from '../transport/index.js';
import type { Channel, TlsInfo } from '../transport/index.js';

/** QEMU's RunState values a livemig guest can be in. */
export type RunState = 'running' | 'paused' | 'postmigrate' | 'finish-migrate' | 'inmigrate' | 'shutdown';

export type MachineEventName = 'MIGRATION' | 'MIGRATION_PASS' | 'STOP' | 'RESUME' | 'SHUTDOWN';

export interface MachineEvent {
  event: MachineEventName;
  data?: Record<string, unknown>;
  /** Wall-clock time of the event, as QMP sends it. */
  timestamp: { seconds: number; microseconds: number };
}

export interface MachineEvents {
  event: [MachineEvent];
  /** A monitor asked the process to quit. */
  quit: [];
  /** A monitor gave a destination waiting for one (`-incoming defer`) the URI to listen on. */
  'migrate-incoming': [uri: string];
}

/**
 * Capabilities as monitors show them: the source's (QEMU's xbzrle, events, auto-converge, and
 * livemig's own), with `xbrle` next to `xbzrle` (delta compression with XBRLE (2011)'s
 * codec).
 */
export const CAPABILITY_NAMES: readonly string[] = ['xbzrle', 'xbrle', ...Object.keys(DEFAULT_CAPABILITIES).filter((n) => n !== 'xbzrle')];

/** QEMU 7.2's capabilities (qapi/migration.json, MigrationCapability); those livemig lacks are accepted when off, refused when on. */
const QEMU_CAPABILITIES: readonly string[] = [
  'xbzrle', 'rdma-pin-all', 'auto-converge', 'zero-blocks', 'compress', 'events', 'postcopy-ram', 'x-colo', 'release-ram', 'block', 'return-path',
  'pause-before-switchover', 'multifd', 'dirty-bitmaps', 'postcopy-blocktime', 'late-block-activate', 'x-ignore-shared',
  'validate-uuid', 'background-snapshot', 'zero-copy-send', 'postcopy-preempt',
];

/** Parameter names and their JSON type (QMP checks types before values). */
export const PARAMETER_NAMES = Object.keys(DEFAULT_PARAMETERS) as (keyof MigrationParameters)[];
export function parameterType(name: keyof MigrationParameters): 'integer' | 'string' {
  return typeof DEFAULT_PARAMETERS[name] === 'number' ? 'integer' : 'string';
}

/** How often the run state is sampled while a migration runs (to see its switchover pause). */
const RUN_STATE_POLL_MS = 20;

const FINAL: readonly MigrationStatus[] = ['completed', 'failed', 'cancelled'];

const NOT_ON_DESTINATION = "this is a destination (livemig incoming): migrations start on the source, and its capabilities and parameters are set there (the destination reads whatever the stream carries)";

export type MachineTarget = { source: SourceManager } | { incoming: IncomingMigration };

/** The connection a destination's migration arrives on, as query-migrate shows it under `incoming.transport`. */
export interface IncomingTransportInfo {
  /** Both ends in words: "tls 127.0.0.1:4444 <- 127.0.0.1:41234 (TLSv1.3, peer CN=src)". */
  description: string;
  /** The TLS session (protocol, cipher, the source's verified certificate), on a TLS connection. */
  tls?: TlsInfo;
}

export class Machine extends EventEmitter<MachineEvents> {
  readonly role: 'source' | 'destination';
  private readonly source: SourceManager | undefined;
  private incoming: IncomingMigration | undefined;
  /** A destination waiting for `migrate_incoming URI` (started with `defer`, or after a failure). */
  private waitingForUri = false;
  private readonly onIncomingStatus = (status: string): void => {
    this.emitEvent('MIGRATION', { status });
    this.checkRunState();
  };
  private incomingTransport: IncomingTransportInfo | undefined;
  private wasRunning: boolean;
  /** The last migration completed and nobody ran the guest since (QEMU's postmigrate). */
  private postmigrate = false;
  private poll: NodeJS.Timeout | undefined;

  /** The guest's name (`--name`), for query-name. */
  readonly name: string | undefined;

  constructor(target: MachineTarget, options: { name?: string | undefined } = {}) {
    super();
    this.name = options.name;
    if ('source' in target) {
      this.role = 'source';
      this.source = target.source;
      this.source.onMigration((m) => this.watch(m));
    } else {
      this.role = 'destination';
      this.incoming = target.incoming;
      this.incoming.on('status', this.onIncomingStatus);
    }
    this.wasRunning = this.guest()?.status === 'running';
  }

  /** The guest, once there is one (a destination has none before its migration completed). */
  guest(): VirtualMachine | undefined {
    return this.source ? this.source.guest : this.incoming?.guest;
  }

  /** QEMU's run state of the guest. */
  runState(): RunState {
    const g = this.guest();
    if (!g) return 'inmigrate';
    if (g.status === 'stopped') return 'shutdown';
    if (g.status === 'running') return 'running';
    if (this.source?.current?.status === 'device') return 'finish-migrate';
    return this.postmigrate ? 'postmigrate' : 'paused';
  }

  /** query-status. */
  queryStatus(): { status: RunState; running: boolean; singlestep: false } {
    return { status: this.runState(), running: this.guest()?.status === 'running', singlestep: false };
  }

  /** query-migrate: the source's current (or last) migration, or the destination's incoming one; `{}` before any. */
  queryMigrate(): MigrationInfo & { incoming?: Record<string, unknown> } {
    if (this.source) return this.source.info();
    const inc = this.incoming!;
    if (inc.status === 'none') return {};
    const info = inc.info();
    if (this.incomingTransport) info.incoming['transport'] = { ...this.incomingTransport, ...(this.incomingTransport.tls ? { tls: { ...this.incomingTransport.tls } } : {}) };
    return info;
  }

  /**
   * A destination: the migration that monitors now show and drive (a new one for each attempt:
   * after a failure the destination waits or listens again).
   */
  setIncoming(incoming: IncomingMigration): void {
    if (!this.incoming) throw new LivemigError('MIGRATION_STATE', 'only a destination has an incoming migration');
    this.incoming.off('status', this.onIncomingStatus);
    this.incoming = incoming;
    this.incomingTransport = undefined;
    incoming.on('status', this.onIncomingStatus);
  }

  /** A destination: whether `migrate_incoming URI` is awaited now. */
  setWaitingForUri(waiting: boolean): void {
    this.waitingForUri = waiting;
  }

  /**
   * QEMU's migrate-incoming: a destination started with `defer` (or waiting again after a failed
   * migration) listens on `uri`. The URI is checked here.
   * @throws LivemigError MIGRATION_STATE on a source, or when the destination is not waiting for a URI.
   */
  migrateIncoming(uri: string): void {
    if (!this.incoming) throw new LivemigError('MIGRATION_STATE', 'this is a source: migrate_incoming is for a destination started with defer (livemig incoming defer)');
    if (!this.waitingForUri) throw new LivemigError('MIGRATION_STATE', "The incoming migration has already been started (start the destination with 'livemig incoming defer' to give the URI here)");
    parseMigrationUri(uri);
    this.waitingForUri = false;
    this.emit('migrate-incoming', uri);
  }

  /** A destination: the connection its migration arrives on (query-migrate then shows it, TLS session included). */
  setIncomingChannel(channel: Channel): void {
    if (!this.incoming) throw new LivemigError('MIGRATION_STATE', 'only a destination has an incoming connection');
    this.incomingTransport = { description: channel.description, ...(channel.tls ? { tls: { ...channel.tls } } : {}) };
  }

  /**
   * Starts a migration (the URI is checked first, so a bad one fails here, as in QEMU).
   * @throws LivemigError: on a destination, while one runs ("There's a migration process in
   *   progress"), a stopped guest, or a TransportError for a bad URI.
   */
  migrate(uri: string, options: MigrateOptions = {}): { migration: OutgoingMigration; done: Promise<MigrationStatus> } {
    const src = this.requireSource();
    if (src.running) throw new LivemigError('MIGRATION_STATE', "There's a migration process in progress");
    parseMigrationUri(uri);
    return src.migrate(uri, options);
  }

  /** Cancels the running migration; harmless when none runs, and on a destination (as in QEMU). */
  cancel(): void {
    this.source?.cancel();
  }

  /** Pauses the guest (`stop`). */
  async stop(): Promise<void> {
    await this.requireGuest().pause();
    this.checkRunState();
  }

  /** Runs the guest again (`cont`); refused while a migration is switching over. */
  cont(): void {
    const g = this.requireGuest();
    if (this.source?.current?.status === 'device') throw new LivemigError('MIGRATION_STATE', 'the guest is being switched over to the destination; wait for the migration to end');
    g.resume();
    this.postmigrate = false;
    this.checkRunState();
  }

  /** Capabilities in QEMU's query-migrate-capabilities shape, in CAPABILITY_NAMES order. */
  capabilities(): { capability: string; state: boolean }[] {
    const src = this.requireSource();
    const c = src.capabilities;
    const codec = src.parameters['delta-codec'];
    return CAPABILITY_NAMES.map((capability) => ({
      capability,
      state: capability === 'xbzrle' || capability === 'xbrle' ? c.xbzrle && codec === capability : isCapabilityName(capability) && c[capability],
    }));
  }

  /**
   * Sets capabilities, all or none: `xbzrle` is QEMU's XBZRLE, `xbrle` XBRLE (2011)'s codec (both
   * are the delta-compression capability with a different `delta-codec`); the others are the
   * source's own. QEMU's capabilities livemig lacks may be set off, not on.
   * @throws LivemigError while a migration runs (QEMU's message), InvalidArgumentError naming a bad capability.
   */
  setCapabilities(list: readonly { capability: string; state: boolean }[]): void {
    const src = this.requireSource();
    if (src.running) throw new LivemigError('MIGRATION_STATE', "There's a migration process in progress");
    for (const { capability, state } of list) {
      if (CAPABILITY_NAMES.includes(capability)) continue;
      if (QEMU_CAPABILITIES.includes(capability)) {
        if (state) throw new InvalidArgumentError(`capability '${capability}' is not supported by livemig (supported: ${CAPABILITY_NAMES.join(', ')})`);
        continue;
      }
      throw new InvalidArgumentError(`unknown capability '${capability}' (known: ${CAPABILITY_NAMES.join(', ')})`);
    }
    for (const { capability, state } of list) {
      if (capability === 'xbzrle' || capability === 'xbrle') {
        if (state) {
          src.setParameter('delta-codec', capability);
          src.setCapability('xbzrle', true);
        } else if (capability === 'xbzrle' || src.parameters['delta-codec'] === 'xbrle') {
          src.setCapability('xbzrle', false);
        }
      } else if (isCapabilityName(capability)) {
        src.setCapability(capability, state);
      } // else: a QEMU capability set off, nothing to do
    }
  }

  /** The source's parameters (a copy). */
  parameters(): MigrationParameters {
    return { ...this.requireSource().parameters };
  }

  /**
   * Sets parameters, all or none (values already typed: numbers or strings).
   * @throws InvalidArgumentError naming an unknown parameter or a bad value, LivemigError for
   *   a parameter that cannot change during a migration.
   */
  setParameters(values: Readonly<Record<string, unknown>>): void {
    const src = this.requireSource();
    for (const name of Object.keys(values)) {
      if (!isParameterName(name)) throw new InvalidArgumentError(`unknown parameter '${name}' (known: ${PARAMETER_NAMES.join(', ')})`);
    }
    src.setParameters(values);
  }

  /** Asks the process to quit: sends SHUTDOWN, then `quit` to whoever runs the process. */
  quit(): void {
    this.emitEvent('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' });
    this.emit('quit');
  }

  /** Stops watching (the run-state poll). */
  close(): void {
    this.stopPolling();
  }

  private watch(m: OutgoingMigration): void {
    m.on('status', (status) => {
      if (status === 'setup') this.startPolling();
      if (FINAL.includes(status)) {
        this.stopPolling();
        if (status === 'completed') this.postmigrate = true;
        this.checkRunState(); // QEMU: STOP comes before MIGRATION completed
      }
      this.emitEvent('MIGRATION', { status });
    });
    // QEMU's MIGRATION_PASS carries the dirty-sync-count, not livemig's pass number
    m.on('pass', () => this.emitEvent('MIGRATION_PASS', { pass: m.counters.dirtySyncCount }));
  }

  /** Sends STOP or RESUME when the guest's running state changed since last seen. */
  private checkRunState(): void {
    const running = this.guest()?.status === 'running';
    if (running === this.wasRunning) return;
    this.wasRunning = running;
    this.emitEvent(running ? 'RESUME' : 'STOP');
  }

  private startPolling(): void {
    this.stopPolling();
    this.poll = setInterval(() => this.checkRunState(), RUN_STATE_POLL_MS);
    this.poll.unref();
  }

  private stopPolling(): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
  }

  private emitEvent(event: MachineEventName, data?: Record<string, unknown>): void {
    const us = Math.round((performance.timeOrigin + performance.now()) * 1000);
    const e: MachineEvent = { event, timestamp: { seconds: Math.floor(us / 1e6), microseconds: us % 1e6 } };
    if (data) e.data = data;
    this.emit('event', e);
  }

  private requireSource(): SourceManager {
    if (!this.source) throw new LivemigError('MIGRATION_STATE', NOT_ON_DESTINATION);
    return this.source;
  }

  private requireGuest(): VirtualMachine {
    const g = this.guest();
    if (!g) throw new LivemigError('GUEST_STATE', 'no guest is running here yet (the incoming migration has not completed)');
    return g;
  }
}
