/**
 * QMP, QEMU's JSON monitor: one session per client, each with its own capabilities
 * negotiation. Shapes are QEMU's (qemu/qapi/qmp-dispatch.c and the QMP spec):
 *
 *   greeting  {"QMP": {"version": {"qemu": {"micro", "minor", "major"}, "package"}, "capabilities": []}}
 *   command   {"execute": NAME, "arguments"?: {...}, "id"?: ANY}
 *   success   {"return": VALUE, "id"?: ID}
 *   error     {"error": {"class": "GenericError" | "CommandNotFound", "desc": TEXT}, "id"?: ID}
 *   event     {"timestamp": {"seconds", "microseconds"}, "event": NAME, "data"?: {...}}
 *
 * Before `qmp_capabilities` every command fails with CommandNotFound "Expecting capabilities
 * negotiation with 'qmp_capabilities'", and no events are sent. The version in the greeting
 * is livemig's. Arguments are typed as in QEMU's schema: an unknown, missing or mistyped one
 * is a GenericError naming it.
 */
import { LivemigError } from '../errors.js';
import { describeMismatch } from '../migration/index.js';
import { Hmp } from './hmp.js';
import type { FramedItem } from './json-framer.js';
import { PARAMETER_NAMES, parameterType } from './machine.js';
import type { Machine, MachineEvent } from './machine.js';
import { LIVEMIG_VERSION, versionTriple } from './version.js';

export type QmpErrorClass = 'GenericError' | 'CommandNotFound';

/** A QMP failure with its class; other errors become GenericError with their message. */
export class QmpError extends LivemigError {
  constructor(readonly errorClass: QmpErrorClass, message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

type ArgType = 'string' | 'boolean' | 'integer' | 'array' | 'object';
type ArgSpec = Readonly<Record<string, { type: ArgType; optional?: true }>>;
type Args = Record<string, unknown>;

interface Command {
  args: ArgSpec;
  run: (args: Args) => unknown;
}

const NO_ARGS: ArgSpec = {};

export class QmpSession {
  private negotiated = false;
  private readonly commands: ReadonlyMap<string, Command>;
  private readonly hmp: Hmp;
  /** Runs after the current reply is sent (quit: the reply, then SHUTDOWN). */
  private afterReply: (() => void) | undefined;

  /** @param send writes one message to the client. */
  constructor(private readonly machine: Machine, private readonly send: (message: object) => void) {
    this.hmp = new Hmp(machine, () => undefined); // human-monitor-command: asynchronous lines have nowhere to go
    this.commands = this.table();
  }

  /** The greeting, sent first. */
  greeting(): object {
    return { QMP: { version: { qemu: versionTriple(), package: `livemig ${LIVEMIG_VERSION}` }, capabilities: [] } };
  }

  /** Sends an event, once this client has negotiated. */
  event(e: MachineEvent): void {
    if (this.negotiated) this.send(e.data ? { timestamp: e.timestamp, event: e.event, data: e.data } : { timestamp: e.timestamp, event: e.event });
  }

  /** Handles one framed message and sends its reply. Never rejects. */
  async handle(item: FramedItem): Promise<void> {
    if (item.kind === 'error') return this.sendError(undefined, 'GenericError', item.desc);
    let msg: unknown;
    try {
      msg = JSON.parse(item.text);
    } catch (e) {
      return this.sendError(undefined, 'GenericError', `JSON parse error, ${(e as Error).message}`);
    }
    if (!isObject(msg)) return this.sendError(undefined, 'GenericError', 'QMP input must be a JSON object');
    const id = Object.hasOwn(msg, 'id') ? { id: msg['id'] } : undefined;
    try {
      for (const key of Object.keys(msg)) {
        if (key !== 'execute' && key !== 'arguments' && key !== 'id') throw new QmpError('GenericError', `QMP input member '${key}' is unexpected`);
      }
      if (!Object.hasOwn(msg, 'execute')) throw new QmpError('GenericError', "QMP input lacks member 'execute'");
      const name = msg['execute'];
      if (typeof name !== 'string') throw new QmpError('GenericError', "QMP input member 'execute' must be a string");
      const args = Object.hasOwn(msg, 'arguments') ? msg['arguments'] : {};
      if (!isObject(args)) throw new QmpError('GenericError', "QMP input member 'arguments' must be an object");
      const result = await this.execute(name, args);
      this.send({ return: result ?? {}, ...id });
    } catch (e) {
      this.sendError(id, e instanceof QmpError ? e.errorClass : 'GenericError', e instanceof Error ? e.message : String(e));
    }
    const after = this.afterReply;
    this.afterReply = undefined;
    after?.();
  }

  private sendError(id: { id: unknown } | undefined, errorClass: QmpErrorClass, desc: string): void {
    this.send({ error: { class: errorClass, desc }, ...id });
  }

  private async execute(name: string, args: Args): Promise<unknown> {
    if (!this.negotiated && name !== 'qmp_capabilities') throw new QmpError('CommandNotFound', "Expecting capabilities negotiation with 'qmp_capabilities'");
    const cmd = this.commands.get(name);
    if (!cmd) throw new QmpError('CommandNotFound', `The command ${name} has not been found`);
    checkArgs(cmd.args, args, '');
    return cmd.run(args);
  }

  private table(): Map<string, Command> {
    const m = this.machine;
    const cancel: Command = { args: NO_ARGS, run: () => m.cancel() };
    const commands: [string, Command][] = [
      ['qmp_capabilities', { args: { enable: { type: 'array', optional: true } }, run: (a) => this.negotiate(a['enable'] as unknown[] | undefined) }],
      ['query-version', { args: NO_ARGS, run: () => ({ qemu: versionTriple(), package: `livemig ${LIVEMIG_VERSION}` }) }],
      ['query-commands', { args: NO_ARGS, run: () => [...this.commands.keys()].map((name) => ({ name })) }],
      ['query-name', { args: NO_ARGS, run: () => (m.name === undefined ? {} : { name: m.name }) }],
      ['query-status', { args: NO_ARGS, run: () => m.queryStatus() }],
      ['query-migrate', { args: NO_ARGS, run: () => m.queryMigrate() }],
      ['migrate', {
        args: { uri: { type: 'string' }, detach: { type: 'boolean', optional: true }, xbzrle: { type: 'boolean', optional: true }, blk: { type: 'boolean', optional: true }, inc: { type: 'boolean', optional: true }, resume: { type: 'boolean', optional: true } },
        run: (a) => this.migrate(a),
      }],
      ['migrate_cancel', cancel],
      ['migrate-incoming', { args: { uri: { type: 'string' } }, run: (a) => m.migrateIncoming(a['uri'] as string) }],
      ['migrate-cancel', cancel],
      ['migrate-set-capabilities', { args: { capabilities: { type: 'array' } }, run: (a) => m.setCapabilities(checkCapabilityList(a['capabilities'] as unknown[])) }],
      ['query-migrate-capabilities', { args: NO_ARGS, run: () => m.capabilities() }],
      ['migrate-set-parameters', { args: Object.fromEntries(PARAMETER_NAMES.map((p) => [p, { type: parameterType(p), optional: true }])), run: (a) => m.setParameters(a) }],
      ['query-migrate-parameters', { args: NO_ARGS, run: () => m.parameters() }],
      ['stop', { args: NO_ARGS, run: () => m.stop() }],
      ['cont', { args: NO_ARGS, run: () => m.cont() }],
      ['quit', { args: NO_ARGS, run: () => void (this.afterReply = () => m.quit()) }],
      ['human-monitor-command', {
        args: { 'command-line': { type: 'string' }, 'cpu-index': { type: 'integer', optional: true } },
        run: async (a) => {
          const out = await this.hmp.execute(a['command-line'] as string);
          return out.length > 0 ? out + '\n' : '';
        },
      }],
    ];
    return new Map(commands);
  }

  private negotiate(enable: unknown[] | undefined): object {
    if (this.negotiated) throw new QmpError('CommandNotFound', 'Capabilities negotiation is already complete, command ignored');
    for (const [i, c] of (enable ?? []).entries()) {
      if (typeof c !== 'string') throw new QmpError('GenericError', `Invalid parameter type for 'enable[${i}]', expected: string`);
      throw new QmpError('GenericError', `Capability '${c}' not available`);
    }
    this.negotiated = true;
    return {};
  }

  /**
   * QEMU's migrate returns `{}` at once and the outcome comes as MIGRATION events. With
   * `detach: false` (XBRLE (2011)'s) the reply waits for the end: `{}` when completed, else an error.
   */
  private async migrate(a: Args): Promise<object> {
    if (a['blk'] === true || a['inc'] === true) throw new QmpError('GenericError', 'block migration (blk, inc) is not supported by livemig');
    if (a['resume'] === true) throw new QmpError('GenericError', 'postcopy resume is not supported by livemig');
    const { migration, done } = this.machine.migrate(a['uri'] as string, a['xbzrle'] === true ? { xbzrle: true } : {});
    if (a['detach'] !== false) return {};
    const status = await done;
    if (status === 'completed' && migration.verification?.result === 'mismatch') throw new QmpError('GenericError', describeMismatch(migration.verification));
    if (status === 'completed') return {};
    throw new QmpError('GenericError', status === 'failed' ? `migration failed: ${migration.error?.message ?? 'unknown error'}` : `migration ${status}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** QEMU's argument checks: no unknown member, no missing one, each of its schema type. */
function checkArgs(spec: ArgSpec, args: Args, prefix: string): void {
  for (const key of Object.keys(args)) {
    if (!Object.hasOwn(spec, key)) throw new QmpError('GenericError', `Parameter '${prefix}${key}' is unexpected`);
  }
  for (const [key, s] of Object.entries(spec)) {
    if (!Object.hasOwn(args, key)) {
      if (!s.optional) throw new QmpError('GenericError', `Parameter '${prefix}${key}' is missing`);
      continue;
    }
    if (!hasType(args[key], s.type)) throw new QmpError('GenericError', `Invalid parameter type for '${prefix}${key}', expected: ${s.type}`);
  }
}

function hasType(v: unknown, type: ArgType): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'array':
      return Array.isArray(v);
    case 'object':
      return isObject(v);
  }
}

const CAPABILITY_ITEM: ArgSpec = { capability: { type: 'string' }, state: { type: 'boolean' } };

function checkCapabilityList(list: unknown[]): { capability: string; state: boolean }[] {
  return list.map((item, i) => {
    if (!isObject(item)) throw new QmpError('GenericError', `Invalid parameter type for 'capabilities[${i}]', expected: object`);
    checkArgs(CAPABILITY_ITEM, item, `capabilities[${i}].`);
    return { capability: item['capability'] as string, state: item['state'] as boolean };
  });
}
