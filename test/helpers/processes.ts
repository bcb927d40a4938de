/**
 * Real livemig processes for end-to-end tests: a destination (`livemig incoming --json`)
 * whose JSON events are collected, and a source (`livemig run`) driven through its monitor
 * on standard input. Every process is killed in `stopAll()`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const live = new Set<ChildProcessWithoutNullStreams>();

export type Event = Record<string, unknown> & { event: string };

export class Destination {
  readonly events: Event[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: { kind: string; resolve: (e: Event) => void }[] = [];

  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      let e: Event;
      try {
        e = JSON.parse(line) as Event;
      } catch {
        return;
      }
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => (w.kind === e.event ? (w.resolve(e), false) : true));
    });
    createInterface({ input: proc.stderr }).on('line', (l) => this.stderr.push(l));
    this.exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  }

  /** The first event of this kind (already seen or to come); rejects after `ms`. */
  waitFor(kind: string, ms = 60_000): Promise<Event> {
    const seen = this.events.find((e) => e.event === kind);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no '${kind}' event within ${ms} ms; stderr: ${this.stderr.join('\n')}`)), ms);
      this.waiters.push({ kind, resolve: (e) => (clearTimeout(t), resolve(e)) });
    });
  }
}

export function startDestination(uri: string, args: string[] = []): Destination {
  const proc = spawn(process.execPath, [CLI, 'incoming', uri, '--json', '--monitor', 'none', '--exit', ...args], { stdio: 'pipe' });
  live.add(proc);
  proc.on('exit', () => live.delete(proc));
  return new Destination(proc);
}

export class Source {
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: { re: RegExp; from: number; resolve: (l: string) => void }[] = [];

  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => (w.re.test(line) ? (w.resolve(line), false) : true));
    });
    createInterface({ input: proc.stderr }).on('line', (l) => this.stderr.push(l));
    this.exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  }

  send(command: string): void {
    this.proc.stdin.write(command + '\n');
  }

  /** The next output line matching `re` (lines already printed count only after `mark`). */
  waitLine(re: RegExp, ms = 60_000, from = this.lines.length): Promise<string> {
    const seen = this.lines.slice(from).find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms; output:\n${this.lines.join('\n')}\nstderr:\n${this.stderr.join('\n')}`)), ms);
      this.waiters.push({ re, from, resolve: (l) => (clearTimeout(t), resolve(l)) });
    });
  }

  /** Sends a command and collects its output up to an `info status` marker. */
  async ask(command: string, ms = 60_000): Promise<string[]> {
    const from = this.lines.length;
    this.send(command);
    this.send('info status');
    // the marker is the last `VM status:` line; `info status` itself prints one before it
    const want = command.trim() === 'info status' ? 2 : 1;
    const deadline = Date.now() + ms;
    for (;;) {
      const seen = this.lines.slice(from).filter((l) => /^VM status: /.test(l)).length;
      if (seen >= want) break;
      if (Date.now() > deadline) throw new Error(`no answer to '${command}' within ${ms} ms; output:\n${this.lines.slice(from).join('\n')}`);
      await this.waitLine(/^VM status: /, Math.max(1, deadline - Date.now()), this.lines.length);
    }
    const out = this.lines.slice(from);
    out.pop();
    return out;
  }
}

export function startSource(args: string[]): Source {
  const proc = spawn(process.execPath, [CLI, 'run', '--monitor', 'stdio', ...args], { stdio: 'pipe' });
  live.add(proc);
  proc.on('exit', () => live.delete(proc));
  return new Source(proc);
}

export function stopAll(): void {
  for (const p of live) p.kill('SIGKILL');
  live.clear();
}

/** `key: value` lines of `info migrate` as a map. */
export function parseInfo(lines: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of lines) {
    const i = l.indexOf(': ');
    if (i > 0 && !m.has(l.slice(0, i))) m.set(l.slice(0, i), l.slice(i + 2));
  }
  return m;
}
