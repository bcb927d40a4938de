/**
 * The human monitor (HMP): QEMU's command names and output, plus XBRLE (2011)'s
 * (`migrate -x`, `migrate_set_cachesize`). One command a line; every error is one line
 * starting with "Error: " and the monitor goes on. Settings go through the Machine, so HMP
 * and QMP apply the same checks.
 */
import { InvalidArgumentError } from '../errors.js';
import { describeMismatch } from '../migration/index.js';
import { formatIncomingInfo, formatInfoMigrate } from './info-migrate.js';
import { parseOnOff, parseSecondsToMs, parseWholeNumber, tokenize } from './hmp-args.js';
import { CAPABILITY_NAMES, PARAMETER_NAMES, parameterType } from './machine.js';
import type { Machine } from './machine.js';
import { parseSize } from './size.js';

/** [usage, description], in `help` order. */
const HELP: readonly (readonly [string, string])[] = [
  ['migrate [-d] [-x] uri', 'migrate to uri: tcp:host:port, tls:host:port (needs --tls-creds), unix:path, exec:cmd, fd:N, file:path (-d: do not wait for the end, -x: delta compression on)'],
  ['migrate_cancel', 'cancel the current migration'],
  ['migrate_incoming uri', 'a destination started with defer (or after a failed migration): listen on uri for the migration'],
  ['migrate_set_cachesize size', 'set the delta-compression cache size (MiB without a suffix; b/k/m/g/t suffixes)'],
  ['migrate_set_speed rate', 'set the bandwidth limit in bytes/s (MiB/s without a suffix; b/k/m/g/t suffixes; 0 = unlimited)'],
  ['migrate_set_downtime seconds', 'set the downtime limit in seconds (e.g. 0.3, or 300ms)'],
  ['migrate_set_capability name on|off', `set a capability: ${CAPABILITY_NAMES.join(', ')} (xbrle: the 2011 XBRLE codec)`],
  ['migrate_set_parameter name value', 'set a parameter (see info migrate_parameters); max-bandwidth and link-bandwidth in MiB/s without a suffix, downtime-limit, max-time, read-timeout and write-timeout in ms (timeouts: 0 = none), cpu-throttle-* in percent'],
  ['info migrate', 'show the migration status and statistics'],
  ['info migrate_capabilities', 'show the migration capabilities'],
  ['info migrate_parameters', 'show the migration parameters'],
  ['info status', 'show the guest\'s run state'],
  ['stop', 'pause the guest'],
  ['cont|c', 'resume the guest'],
  ['help|? [command]', 'list commands, or show one'],
  ['quit|q', 'quit livemig'],
];

const INFO_ITEMS = ['migrate', 'migrate_capabilities', 'migrate_parameters', 'status'] as const;

const SIZE_PARAMETERS: readonly string[] = ['xbzrle-cache-size'];
/** QEMU: max-bandwidth is in MiB/s when no suffix is given. */
const MIB_PARAMETERS: readonly string[] = ['max-bandwidth', 'link-bandwidth'];
/** Units `info migrate_parameters` shows (QEMU's for its parameters; none for counts and percentages). */
const PARAMETER_UNITS: Readonly<Record<string, string>> = {
  'xbzrle-cache-size': 'bytes',
  'max-bandwidth': 'bytes/second',
  'link-bandwidth': 'bytes/second',
  'downtime-limit': 'ms',
  'max-time': 'ms',
  'read-timeout': 'ms',
  'write-timeout': 'ms',
};

export class Hmp {
  /**
   * @param print where asynchronous lines go (the outcome of a `migrate -d`), e.g. the
   *   session's output.
   */
  constructor(private readonly machine: Machine, private readonly print: (line: string) => void) {}

  /**
   * Runs one command line. Resolves with the text to print (possibly empty, no trailing
   * newline); never rejects. A plain `migrate` resolves when the migration has ended.
   */
  async execute(line: string): Promise<string> {
    try {
      const words = tokenize(line);
      if (words.length === 0) return '';
      const [cmd, ...args] = words as [string, ...string[]];
      return await this.dispatch(cmd, args);
    } catch (e) {
      return `Error: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  private async dispatch(cmd: string, args: string[]): Promise<string> {
    const m = this.machine;
    switch (cmd) {
      case 'help':
      case '?':
        return help(args);
      case 'quit':
      case 'q':
        noArgs(cmd, args);
        m.quit();
        return '';
      case 'migrate':
        return this.migrate(args);
      case 'migrate_cancel':
        noArgs(cmd, args);
        m.cancel();
        return '';
      case 'migrate_incoming':
        arity(cmd, args, 'uri');
        m.migrateIncoming(args[0]!);
        return '';
      // QEMU's HMP reads both (argument type 'o') in MiB when no suffix is given
      case 'migrate_set_cachesize':
        arity(cmd, args, 'size');
        m.setParameters({ 'xbzrle-cache-size': parseSize(args[0]!, 'cache size', 'm') });
        return '';
      case 'migrate_set_speed':
        arity(cmd, args, 'rate');
        m.setParameters({ 'max-bandwidth': parseSize(args[0]!, 'speed', 'm') });
        return '';
      case 'migrate_set_downtime':
        arity(cmd, args, 'seconds');
        m.setParameters({ 'downtime-limit': parseSecondsToMs(args[0]!, 'downtime') });
        return '';
      case 'migrate_set_capability':
        arity(cmd, args, 'name on|off');
        m.setCapabilities([{ capability: args[0]!, state: parseOnOff(args[1]!, `state of ${args[0]}`) }]);
        return '';
      case 'migrate_set_parameter':
        return this.setParameter(args);
      case 'info':
        return this.info(args);
      case 'stop':
        noArgs(cmd, args);
        await m.stop();
        return '';
      case 'cont':
      case 'c':
        noArgs(cmd, args);
        m.cont();
        return '';
      default:
        throw new InvalidArgumentError(`unknown command: '${cmd}' (try 'help')`);
    }
  }

  private async migrate(args: string[]): Promise<string> {
    let detach = false;
    let xbzrle = false;
    const rest: string[] = [];
    for (const a of args) {
      if (rest.length === 0 && /^-[a-z]+$/i.test(a)) {
        for (const f of a.slice(1)) {
          if (f === 'd') detach = true;
          else if (f === 'x') xbzrle = true;
          else if (f === 'b' || f === 'i' || f === 'r') throw new InvalidArgumentError(`migrate: -${f} (QEMU's ${f === 'r' ? 'postcopy resume' : 'block migration'}) is not supported by livemig`);
          else throw new InvalidArgumentError(`migrate: unknown option '-${f}' (options: -d, -x)`);
        }
      } else {
        rest.push(a);
      }
    }
    if (rest.length !== 1) throw new InvalidArgumentError('usage: migrate [-d] [-x] uri');
    const { migration, done } = this.machine.migrate(rest[0]!, xbzrle ? { xbzrle } : {});
    const outcome = () => {
      const i = migration.info();
      if (i.status === 'failed') return `Error: migration failed: ${i['error-desc'] ?? 'unknown error'}`;
      // after-resume: completed, but the check found RAM that differs
      const v = migration.verification;
      return v?.result === 'mismatch' ? `Migration status: completed\nError: ${describeMismatch(v)}` : `Migration status: ${i.status ?? 'none'}`;
    };
    if (detach) {
      void done.then(() => this.print(outcome()));
      return '';
    }
    await done;
    return outcome();
  }

  private setParameter(args: string[]): string {
    arity('migrate_set_parameter', args, 'name value');
    const name = args[0]!.replace(/_/g, '-'); // QEMU's older spelling: xbzrle_cache_size
    const text = args[1]!;
    if (!(PARAMETER_NAMES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`unknown parameter '${args[0]}' (known: ${PARAMETER_NAMES.join(', ')})`);
    }
    let value: number | string;
    if (SIZE_PARAMETERS.includes(name)) value = parseSize(text, name);
    else if (MIB_PARAMETERS.includes(name)) value = parseSize(text, name, 'm');
    else if (parameterType(name as (typeof PARAMETER_NAMES)[number]) === 'string') value = text;
    else value = parseWholeNumber(text, name);
    this.machine.setParameters({ [name]: value });
    return '';
  }

  private info(args: string[]): string {
    if (args.length === 0) return INFO_ITEMS.map((i) => `info ${i}`).join('\n');
    if (args.length !== 1) throw new InvalidArgumentError(`usage: info ${INFO_ITEMS.join('|')}`);
    const m = this.machine;
    switch (args[0]) {
      case 'migrate': {
        const info = m.queryMigrate();
        return m.role === 'source' ? formatInfoMigrate(info) : formatIncomingInfo(info);
      }
      case 'migrate_capabilities':
        return m.capabilities().map((c) => `${c.capability}: ${c.state ? 'on' : 'off'}`).join('\n');
      case 'migrate_parameters': {
        const p = m.parameters();
        return PARAMETER_NAMES.map((name) => `${name}: ${p[name]}${PARAMETER_UNITS[name] ? ` ${PARAMETER_UNITS[name]}` : ''}`).join('\n');
      }
      case 'status': {
        // QEMU's hmp_info_status: "running", "paused", or "paused (<run state>)"
        const { status, running } = m.queryStatus();
        return `VM status: ${running ? 'running' : status === 'paused' ? 'paused' : `paused (${status})`}`;
      }
      default:
        throw new InvalidArgumentError(`unknown info '${args[0]}' (try: ${INFO_ITEMS.join(', ')})`);
    }
  }
}

function help(args: string[]): string {
  const rows = args.length === 0 ? HELP : HELP.filter(([usage]) => usage.split(' ')[0]!.split('|').includes(args[0]!) || (args[0] === 'info' && usage.startsWith('info ')));
  if (args.length > 1) throw new InvalidArgumentError('usage: help [command]');
  if (rows.length === 0) throw new InvalidArgumentError(`unknown command: '${args[0]}' (try 'help')`);
  return rows.map(([c, d]) => `${c.padEnd(36)} -- ${d}`).join('\n');
}

function noArgs(cmd: string, args: string[]): void {
  if (args.length > 0) throw new InvalidArgumentError(`${cmd} takes no arguments`);
}

function arity(cmd: string, args: string[], names: string): void {
  if (args.length !== names.split(' ').length) throw new InvalidArgumentError(`usage: ${cmd} ${names}`);
}
