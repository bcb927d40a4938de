/**
 * Real links for the benchmark (`--netns`, root, iproute2): two network namespaces joined by
 * a veth pair, 10.77.0.1/24 (source) and 10.77.0.2/24 (destination), addresses that exist
 * only inside these namespaces. Each run shapes both ends with `tc`: netem (rate, delay, loss)
 * where the kernel has it, else a token bucket filter (rate only; delay and loss are then not
 * available and the run says so). Unlimited = no qdisc. The namespaces (and with them the veth
 * pair) are deleted by `close()`, on every exit path the harness has.
 */
import { execFileSync } from 'node:child_process';

export const SOURCE_ADDRESS = '10.77.0.1';
export const DESTINATION_ADDRESS = '10.77.0.2';

export interface LinkShape {
  bitsPerSecond: number;
  delayMs: number;
  lossPercent: number;
}

export class NetnsLink {
  readonly sourceNs: string;
  readonly destinationNs: string;
  private readonly vethSource: string;
  private readonly vethDestination: string;
  /** The qdisc in use: `netem`, or `tbf` where this kernel has no netem. */
  shaper: 'netem' | 'tbf' = 'netem';
  private closed = false;

  private constructor(tag: string) {
    this.sourceNs = `livemig-src-${tag}`;
    this.destinationNs = `livemig-dst-${tag}`;
    this.vethSource = `lmsrc${tag}`.slice(0, 15);
    this.vethDestination = `lmdst${tag}`.slice(0, 15);
  }

  /**
   * Creates the namespaces and the veth pair.
   * @throws Error naming the command that failed (not root, no `ip`, ...); what was made is removed.
   */
  static create(): NetnsLink {
    const l = new NetnsLink(String(process.pid % 100000));
    try {
      ip('netns', 'add', l.sourceNs);
      ip('netns', 'add', l.destinationNs);
      ip('link', 'add', l.vethSource, 'type', 'veth', 'peer', 'name', l.vethDestination);
      ip('link', 'set', l.vethSource, 'netns', l.sourceNs);
      ip('link', 'set', l.vethDestination, 'netns', l.destinationNs);
      ip('-n', l.sourceNs, 'addr', 'add', `${SOURCE_ADDRESS}/24`, 'dev', l.vethSource);
      ip('-n', l.destinationNs, 'addr', 'add', `${DESTINATION_ADDRESS}/24`, 'dev', l.vethDestination);
      for (const [ns, dev] of [[l.sourceNs, l.vethSource], [l.destinationNs, l.vethDestination]] as const) {
        ip('-n', ns, 'link', 'set', 'lo', 'up');
        ip('-n', ns, 'link', 'set', dev, 'up');
      }
    } catch (e) {
      l.close();
      throw e;
    }
    return l;
  }

  /** Shapes both directions (the data goes source → destination, the reply back). */
  shape(s: LinkShape): void {
    for (const [ns, dev] of [[this.sourceNs, this.vethSource], [this.destinationNs, this.vethDestination]] as const) {
      tryRun('tc', ['-n', ns, 'qdisc', 'del', 'dev', dev, 'root']);
      if (s.bitsPerSecond === 0 && s.delayMs === 0 && s.lossPercent === 0) continue;
      const netem = ['-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'netem', 'limit', '100000'];
      if (s.bitsPerSecond > 0) netem.push('rate', `${s.bitsPerSecond}bit`);
      if (s.delayMs > 0) netem.push('delay', `${s.delayMs}ms`);
      if (s.lossPercent > 0) netem.push('loss', `${s.lossPercent}%`);
      if (this.shaper === 'netem') {
        const err = tryRun('tc', netem);
        if (err === undefined) continue;
        if (!/unknown/i.test(err)) throw new Error(`tc ${netem.join(' ')}: ${err}`);
        this.shaper = 'tbf';
      }
      if (s.bitsPerSecond > 0) {
        // burst: 10 ms at the rate, at least 64 KiB (a TSO segment must fit)
        const burst = Math.max(65536, Math.round(s.bitsPerSecond / 8 / 100));
        run('tc', ['-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${s.bitsPerSecond}bit`, 'burst', String(burst), 'latency', '50ms']);
      }
    }
  }

  /** Why a shape cannot be honoured here (tbf has no delay or loss), or undefined. */
  limitation(s: LinkShape): string | undefined {
    return this.shaper === 'tbf' && (s.delayMs > 0 || s.lossPercent > 0) ? 'this kernel has no netem: delay and loss are not applied (tbf shapes the rate only)' : undefined;
  }

  /** `ip netns exec NS` + command, for spawn. */
  exec(ns: string, argv: readonly string[]): { cmd: string; args: string[] } {
    return { cmd: 'ip', args: ['netns', 'exec', ns, ...argv] };
  }

  /** Deletes both namespaces (and the veth pair with them). Idempotent, never throws. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    tryRun('ip', ['netns', 'del', this.sourceNs]);
    tryRun('ip', ['netns', 'del', this.destinationNs]);
    tryRun('ip', ['link', 'del', this.vethSource]);
  }
}

function ip(...args: string[]): void {
  run('ip', args);
}

function run(cmd: string, args: readonly string[]): void {
  const err = tryRun(cmd, args);
  if (err !== undefined) throw new Error(`${cmd} ${args.join(' ')}: ${err}`);
}

/** Runs a command; returns its error text, or undefined on success. */
function tryRun(cmd: string, args: readonly string[]): string | undefined {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return (err.stderr?.toString().trim() || err.message).split('\n')[0];
  }
}
