/**
 * livemig processes for the monitor tests: output collected line by line (stdout and
 * stderr), the address a `--qmp`/`--monitor` socket listens on, and cleanup of every
 * process started (SIGKILL in `killAll()`).
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI } from '../helpers/processes.js';

const live = new Set<ChildProcessWithoutNullStreams>();

export class Proc {
  readonly out: string[] = [];
  readonly err: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: { stream: 'out' | 'err'; re: RegExp; from: number; resolve: (l: string) => void }[] = [];

  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    for (const stream of ['out', 'err'] as const) {
      createInterface({ input: stream === 'out' ? proc.stdout : proc.stderr }).on('line', (line) => {
        const lines = this[stream];
        lines.push(line);
        const i = lines.length - 1;
        this.waiters = this.waiters.filter((w) => (w.stream === stream && i >= w.from && w.re.test(line) ? (w.resolve(line), false) : true));
      });
    }
    this.exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  }

  /** The first line of `stream` from index `from` on that matches. */
  waitLine(re: RegExp, stream: 'out' | 'err' = 'out', from = 0, ms = 30_000): Promise<string> {
    const seen = this[stream].slice(from).find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${stream} line matching ${re} within ${ms} ms\nstdout:\n${this.out.join('\n')}\nstderr:\n${this.err.join('\n')}`)), ms);
      this.waiters.push({ stream, re, from, resolve: (l) => (clearTimeout(t), resolve(l)) });
    });
  }

  /** Where a socket monitor listens, from "livemig: QMP listening on tcp:127.0.0.1:41234". */
  async listening(kind: 'QMP' | 'monitor'): Promise<{ path: string } | { host: string; port: number }> {
    const line = await this.waitLine(new RegExp(`^livemig: ${kind} listening on `), 'err');
    const addr = line.slice(line.indexOf(' on ') + 4);
    if (addr.startsWith('unix:')) return { path: addr.slice(5) };
    const m = /^tcp:(.*):(\d+)$/.exec(addr);
    if (!m) throw new Error(`bad address line: ${line}`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  }

  send(line: string): void {
    this.proc.stdin.write(line + '\n');
  }

  /**
   * Sends HMP commands and returns their output: everything printed up to the marker that a
   * trailing `info status` prints.
   */
  async ask(command: string, ms = 30_000): Promise<string[]> {
    const from = this.out.length;
    this.send(command);
    this.send('info status');
    await this.waitLine(/^VM status: /, 'out', from, ms);
    const out = this.out.slice(from);
    const marker = out.findIndex((l) => /^VM status: /.test(l));
    return out.slice(0, marker);
  }
}

/** `livemig <args>` with piped standard input/output. */
export function livemig(args: string[]): Proc {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: 'pipe' });
  live.add(proc);
  proc.on('exit', () => live.delete(proc));
  return new Proc(proc);
}

export function killAll(): void {
  for (const p of live) p.kill('SIGKILL');
  live.clear();
}
