/**
 * The human monitor (HMP): QEMU's command names and output, plus the seed's
 * (`migrate -x`, `migrate_set_cachesize`). One command a line; every error is one line
 * starting with "Error: " and the monitor goes on.
 */
import { LivemigError } from '../errors.js';
import type { Guest } from '../guest/index.js';
import { isCapabilityName, isParameterName } from '../migration/index.js';
import type { IncomingMigration, SourceManager } from '../migration/index.js';
import { formatInfoMigrate } from './info-migrate.js';
import { parseSize } from './size.js';

export interface HmpContext {
  /** The source side (a `livemig run` process); absent on a destination. */
  source?: SourceManager;
  /** The destination's migration, once one arrived. */
  incoming?: () => IncomingMigration | undefined;
  guest: () => Guest | undefined;
  quit: () => void;
  /** Where asynchronous lines go (the end of a detached migration). */
  print: (line: string) => void;
}

const HELP: [string, string][] = [
  ['migrate [-d] [-x] uri', 'migrate to uri (-d: do not wait for completion, -x: delta compression on)'],
  ['migrate_cancel', 'cancel the current migration'],
  ['migrate_set_cachesize size', 'set the delta-compression cache size (k/m/g/t suffixes)'],
  ['migrate_set_speed rate', 'set the bandwidth limit in bytes/s (k/m/g suffixes; 0 = unlimited)'],
  ['migrate_set_downtime seconds', 'set the downtime limit in seconds (e.g. 0.3)'],
  ['migrate_set_capability name on|off', 'xbzrle (QEMU), xbrle (the seed\'s codec), events'],
  ['migrate_set_parameter name value', 'xbzrle-cache-size, max-bandwidth (MiB without suffix), downtime-limit (ms), cache-ways, delta-codec, link-bandwidth, max-iterations, max-time (ms), stall-policy'],
  ['info migrate|migrate_capabilities|migrate_parameters|status', 'show migration state, capabilities, parameters, guest status'],
  ['stop', 'pause the guest'],
  ['cont', 'resume the guest'],
  ['help', 'this list'],
  ['quit', 'quit livemig'],
];

export class Hmp {
  constructor(private readonly ctx: HmpContext) {}

  /**
   * Runs one command line. Resolves with the text to print (possibly empty). A plain
   * `migrate` resolves when the migration has ended.
   */
  async execute(line: string): Promise<string> {
    let words: string[];
    try {
      words = tokenize(line);
    } catch (e) {
      return `Error: ${(e as Error).message}`;
    }
    if (words.length === 0) return '';
    const [cmd, ...args] = words as [string, ...string[]];
    try {
      return await this.dispatch(cmd, args);
    } catch (e) {
      return `Error: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  private source(): SourceManager {
    if (!this.ctx.source) throw new LivemigError('MIGRATION_STATE', 'this is a destination: it receives migrations and cannot start one');
    return this.ctx.source;
  }

  private async dispatch(cmd: string, args: string[]): Promise<string> {
    switch (cmd) {
      case 'help':
      case '?':
        return HELP.map(([c, d]) => `${c.padEnd(58)} -- ${d}`).join('\n');
      case 'quit':
      case 'q':
        this.ctx.quit();
        return '';
      case 'migrate':
        return this.migrate(args);
      case 'migrate_cancel':
        this.noArgs(cmd, args);
        this.source().cancel();
        return '';
      case 'migrate_set_cachesize':
        this.arity(cmd, args, 1, 'size');
        this.source().setParameter('xbzrle-cache-size', parseSize(args[0]!, 'cache size'));
        return '';
      case 'migrate_set_speed':
        this.arity(cmd, args, 1, 'rate');
        this.source().setParameter('max-bandwidth', parseSize(args[0]!, 'speed'));
        return '';
      case 'migrate_set_downtime': {
        this.arity(cmd, args, 1, 'seconds');
        const s = Number(args[0]);
        if (!/^\d+(\.\d+)?$/.test(args[0]!) || !Number.isFinite(s)) throw new LivemigError('INVALID_ARGUMENT', `invalid downtime '${args[0]}': expected seconds, e.g. 0.3`);
        this.source().setParameter('downtime-limit', Math.round(s * 1000));
        return '';
      }
      case 'migrate_set_capability':
        return this.setCapability(args);
      case 'migrate_set_parameter':
        return this.setParameter(args);
      case 'info':
        return this.info(args);
      case 'stop':
        this.noArgs(cmd, args);
        await this.guest().pause();
        return '';
      case 'cont':
      case 'c':
        this.noArgs(cmd, args);
        if (this.ctx.source?.running && this.ctx.source.current?.status === 'device') throw new LivemigError('MIGRATION_STATE', 'the guest is being switched over; wait for the migration to end');
        this.guest().resume();
        return '';
      default:
        throw new LivemigError('INVALID_ARGUMENT', `unknown command: '${cmd}' (try 'help')`);
    }
  }

  private guest(): Guest {
    const g = this.ctx.guest();
    if (!g) throw new LivemigError('GUEST_STATE', 'no guest is running here yet');
    return g;
  }

  private noArgs(cmd: string, args: string[]): void {
    if (args.length > 0) throw new LivemigError('INVALID_ARGUMENT', `${cmd} takes no arguments`);
  }

  private arity(cmd: string, args: string[], n: number, names: string): void {
    if (args.length !== n) throw new LivemigError('INVALID_ARGUMENT', `usage: ${cmd} ${names}`);
  }

  private async migrate(args: string[]): Promise<string> {
    let detach = false;
    let xbzrle = false;
    const rest: string[] = [];
    for (const a of args) {
      if (a === '-d') detach = true;
      else if (a === '-x') xbzrle = true;
      else if (a.startsWith('-') && rest.length === 0) throw new LivemigError('INVALID_ARGUMENT', `migrate: unknown option '${a}' (options: -d, -x)`);
      else rest.push(a);
    }
    if (rest.length !== 1) throw new LivemigError('INVALID_ARGUMENT', 'usage: migrate [-d] [-x] uri');
    const { migration, done } = this.source().migrate(rest[0]!, { xbzrle });
    const outcome = () => {
      const i = migration.info();
      return i.status === 'failed' ? `Error: migration failed: ${i['error-desc'] ?? 'unknown error'}` : `Migration status: ${i.status}`;
    };
    if (detach) {
      void done.then(() => this.ctx.print(outcome()));
      return '';
    }
    await done;
    return outcome();
  }

  private setCapability(args: string[]): string {
    if (args.length !== 2 || (args[1] !== 'on' && args[1] !== 'off')) throw new LivemigError('INVALID_ARGUMENT', 'usage: migrate_set_capability name on|off');
    const on = args[1] === 'on';
    const name = args[0]!;
    const src = this.source();
    if (name === 'xbrle') {
      src.setCapability('xbzrle', on);
      if (on) src.setParameter('delta-codec', 'xbrle');
      return '';
    }
    if (!isCapabilityName(name)) throw new LivemigError('INVALID_ARGUMENT', `unknown capability '${name}' (known: xbzrle, xbrle, events)`);
    if (name === 'xbzrle' && on) src.setParameter('delta-codec', 'xbzrle');
    src.setCapability(name, on);
    return '';
  }

  private setParameter(args: string[]): string {
    if (args.length !== 2) throw new LivemigError('INVALID_ARGUMENT', 'usage: migrate_set_parameter name value');
    const [name, value] = args as [string, string];
    if (!isParameterName(name)) throw new LivemigError('INVALID_ARGUMENT', `unknown parameter '${name}' (known: xbzrle-cache-size, max-bandwidth, downtime-limit, cache-ways, delta-codec, link-bandwidth, max-iterations, max-time, stall-policy)`);
    const src = this.source();
    switch (name) {
      case 'xbzrle-cache-size':
        src.setParameter(name, parseSize(value, name));
        break;
      case 'max-bandwidth':
      case 'link-bandwidth':
        src.setParameter(name, parseSize(value, name, 'm')); // QEMU: MiB when no suffix
        break;
      case 'downtime-limit':
      case 'cache-ways':
      case 'max-iterations':
      case 'max-time':
        if (!/^\d+$/.test(value)) throw new LivemigError('INVALID_ARGUMENT', `invalid ${name} '${value}': expected a whole number`);
        src.setParameter(name, Number(value));
        break;
      case 'delta-codec':
      case 'stall-policy':
        src.setParameter(name, value);
        break;
    }
    return '';
  }

  private info(args: string[]): string {
    if (args.length !== 1) throw new LivemigError('INVALID_ARGUMENT', 'usage: info migrate|migrate_capabilities|migrate_parameters|status');
    switch (args[0]) {
      case 'migrate': {
        if (this.ctx.source) return formatInfoMigrate(this.ctx.source.info());
        const inc = this.ctx.incoming?.();
        return formatInfoMigrate(inc ? inc.info() : {}, 'destination') + (inc ? formatIncomingExtra(inc) : '');
      }
      case 'migrate_capabilities': {
        const c = this.source().capabilities;
        const p = this.source().parameters;
        return [`xbzrle: ${c.xbzrle && p['delta-codec'] === 'xbzrle' ? 'on' : 'off'}`, `xbrle: ${c.xbzrle && p['delta-codec'] === 'xbrle' ? 'on' : 'off'}`, `events: ${c.events ? 'on' : 'off'}`].join('\n');
      }
      case 'migrate_parameters': {
        const p = this.source().parameters;
        return [
          `xbzrle-cache-size: ${p['xbzrle-cache-size']} bytes`,
          `max-bandwidth: ${p['max-bandwidth']} bytes/second`,
          `downtime-limit: ${p['downtime-limit']} ms`,
          `cache-ways: ${p['cache-ways']}`,
          `delta-codec: ${p['delta-codec']}`,
          `link-bandwidth: ${p['link-bandwidth']} bytes/second`,
          `max-iterations: ${p['max-iterations']}`,
          `max-time: ${p['max-time']} ms`,
          `stall-policy: ${p['stall-policy']}`,
        ].join('\n');
      }
      case 'status': {
        const g = this.ctx.guest();
        if (!g) return 'VM status: inmigrate';
        const mig = this.ctx.source?.current;
        if (g.status === 'paused' && mig?.status === 'completed') return 'VM status: paused (postmigrate)';
        return `VM status: ${g.status === 'running' ? 'running' : g.status === 'paused' ? 'paused' : 'shutdown'}`;
      }
      default:
        throw new LivemigError('INVALID_ARGUMENT', `unknown info '${args[0]}' (migrate, migrate_capabilities, migrate_parameters, status)`);
    }
  }
}

function formatIncomingExtra(inc: IncomingMigration): string {
  const lines: string[] = [];
  lines.push(`received: ${Math.floor(inc.bytesRead / 1024)} kbytes`);
  const r = inc.recordCounts;
  lines.push(`received pages: normal ${r.page}, zero ${r.zero}, xbzrle ${r.xbzrle}, xbrle ${r.xbrle}`);
  if (inc.sourceDigest) lines.push(`source ram digest (sha256): ${inc.sourceDigest}`);
  if (inc.ramDigest) lines.push(`ram digest (sha256): ${inc.ramDigest}`);
  if (inc.strideCheck) lines.push(`stride check: ${inc.strideCheck.ok ? 'ok' : 'FAILED'} (${inc.strideCheck.message})`);
  return '\n' + lines.join('\n');
}

/** Splits a command line into words; "double" or 'single' quotes keep spaces (e.g. "exec:cat > f"). */
export function tokenize(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: string | null = null;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new LivemigError('INVALID_ARGUMENT', `unterminated ${quote} quote`);
  if (inWord) words.push(cur);
  return words;
}
