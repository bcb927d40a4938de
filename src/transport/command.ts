/**
 * A shell command started for exec: — spawned as `/bin/sh -c command` like QEMU does, in its own
 * process group so that killing it also kills what the shell started (`cat > f` may run as a
 * child of sh), with the last few KiB of its stderr kept for error messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** How a command ended: an exit status, a signal, or a failure to start it. */
export type CommandEnd =
  | { readonly status: number; readonly signal: null }
  | { readonly status: null; readonly signal: NodeJS.Signals }
  | { readonly status: null; readonly signal: null; readonly spawnError: Error };

/** Bytes of stderr kept: enough for the error lines, bounded whatever the command prints. */
const STDERR_TAIL_CHARS = 4096;

/** Grace time between SIGTERM and SIGKILL when tearing a command down. */
const KILL_GRACE_MS = 2000;

/** A running exec: command. */
export class Command {
  readonly child: ChildProcess;
  /** Settles once the command ended and its pipes closed (never rejects). */
  readonly ended: Promise<CommandEnd>;
  private stderr = '';
  private end: CommandEnd | undefined;

  /** Starts `command`; `streamFd` 0 gives it a stdin pipe (outgoing), 1 a stdout pipe (incoming). */
  constructor(command: string, streamFd: 0 | 1) {
    this.child = spawn('/bin/sh', ['-c', command], {
      stdio: streamFd === 0 ? ['pipe', 'ignore', 'pipe'] : ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const child = this.child;
    for (const s of [child.stdin, child.stdout, child.stderr]) s?.on('error', () => undefined);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-STDERR_TAIL_CHARS);
    });
    this.ended = new Promise<CommandEnd>((resolve) => {
      child.once('close', (status: number | null, signal: NodeJS.Signals | null) => {
        this.end = status !== null ? { status, signal: null } : { status: null, signal: signal ?? 'SIGKILL' };
        resolve(this.end);
      });
      child.on('error', (err) => {
        // A spawn failure emits no 'close' when no process ever existed.
        if (child.pid === undefined) {
          this.end = { status: null, signal: null, spawnError: err };
          resolve(this.end);
        }
      });
    });
  }

  /** Resolves when the process runs; rejects with the spawn error. */
  started(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.child.pid !== undefined) {
        resolve();
        return;
      }
      this.child.once('spawn', () => resolve());
      void this.ended.then((end) => {
        if ('spawnError' in end) reject(end.spawnError);
      });
    });
  }

  /** How it ended, if it did. */
  get result(): CommandEnd | undefined {
    return this.end;
  }

  /** The end within `ms`, or undefined if it is still running then. */
  endedWithin(ms: number): Promise<CommandEnd | undefined> {
    if (this.end !== undefined) return Promise.resolve(this.end);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ms);
      void this.ended.then((end) => {
        clearTimeout(timer);
        resolve(end);
      });
    });
  }

  /** The last lines of stderr, as a message suffix ("; stderr: ..."), or ''. */
  stderrSuffix(): string {
    const text = this.stderr.trim();
    return text === '' ? '' : `; stderr: ${text}`;
  }

  /** SIGTERM to the whole process group, SIGKILL if it lingers. Idempotent, no-op once ended. */
  kill(): void {
    if (this.end !== undefined || this.child.pid === undefined) return;
    const pid = this.child.pid;
    signalGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
    timer.unref();
    void this.ended.then(() => clearTimeout(timer));
  }
}

/** "exited with status 3", "was killed by SIGTERM", "could not be started: ...". */
export function describeEnd(end: CommandEnd): string {
  if (end.status !== null) return `exited with status ${end.status}`;
  if (end.signal !== null) return `was killed by ${end.signal}`;
  return `could not be started: ${end.spawnError.message}`;
}

/** True for a clean exit (status 0). */
export function succeeded(end: CommandEnd): boolean {
  return end.status === 0;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}
