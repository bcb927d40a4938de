/**
 * Runs an HMP monitor over a pair of streams (standard input/output, or a socket): one
 * command at a time, in order, so that `migrate` without -d finishes before the next line
 * is read. A `(livemig) ` prompt (and a banner) only on a terminal or a monitor socket, so
 * scripts piping commands get plain output. Resolves at end of input (after the running
 * command) or once `stopped()` says so (after `quit`).
 */
import type { Readable, Writable } from 'node:stream';
import { tokenize } from './hmp-args.js';
import { Hmp } from './hmp.js';
import { MAX_HMP_LINE_BYTES, readMonitorLines } from './line-reader.js';
import type { Machine } from './machine.js';
import { LIVEMIG_VERSION } from './version.js';

export const PROMPT = '(livemig) ';
export const BANNER = `livemig ${LIVEMIG_VERSION} monitor - type 'help' for more information`;

export interface HmpSessionOptions {
  /** Show the banner and a prompt before each command (terminals and monitor sockets). */
  prompt: boolean;
  /** Checked after each command: true ends the session (the process is quitting). */
  stopped: () => boolean;
  /**
   * A socket client that stops reading is disconnected once this much output waits for it
   * (default: no limit, for standard output).
   */
  maxUnreadOutputBytes?: number;
  /**
   * Told `true` before a `migrate` without `-d` runs and `false` once it has returned: the
   * session shows no prompt meanwhile, so a progress bar may have the terminal's last line.
   */
  onForegroundMigrate?: (running: boolean) => void;
}

/** A `migrate` command line without `-d` (the flags as Hmp reads them: leading `-xyz` words). */
export function isForegroundMigrate(line: string): boolean {
  let words: string[];
  try {
    words = tokenize(line);
  } catch {
    return false; // Hmp refuses the line: nothing starts
  }
  if (words[0] !== 'migrate') return false;
  for (const w of words.slice(1)) {
    if (!/^-[a-z]+$/i.test(w)) break;
    if (w.includes('d')) return false;
  }
  return true;
}

export async function runHmpSession(machine: Machine, input: Readable, output: Writable, options: HmpSessionOptions): Promise<void> {
  const limit = options.maxUnreadOutputBytes ?? Infinity;
  // Output of the commands of one input chunk goes out in one write, so a reader sees a
  // command's reply together with the next one's (scripts that send a marker command rely on it).
  let pending = '';
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    scheduled = undefined;
    const text = pending;
    pending = '';
    if (text.length === 0 || output.writableEnded || output.destroyed) return;
    output.write(text);
    if (output.writableLength > limit) output.destroy();
  };
  const write = (s: string) => {
    pending += s;
    if (pending.length > MAX_HMP_LINE_BYTES) flush();
    else scheduled ??= setImmediate(flush);
  };
  // waiting at the prompt: a line that comes now (a detached migration's outcome) goes on a
  // line of its own, and the prompt is shown again under it
  let atPrompt = false;
  const hmp = new Hmp(machine, (line) => write(atPrompt ? `\n${line}\n${PROMPT}` : line + '\n'));
  const prompt = () => {
    write(PROMPT);
    atPrompt = true;
  };
  if (options.prompt) {
    write(`${BANNER}\n`);
    prompt();
  }
  try {
    for await (const item of readMonitorLines(input, MAX_HMP_LINE_BYTES)) {
      atPrompt = false;
      if ('tooLong' in item) {
        write(`Error: command line longer than ${item.tooLong} bytes (ignored)\n`);
      } else {
        const foreground = options.onForegroundMigrate !== undefined && isForegroundMigrate(item.line);
        if (foreground) options.onForegroundMigrate!(true);
        try {
          const text = await hmp.execute(item.line); // never rejects
          if (text.length > 0) write(text + '\n');
        } finally {
          if (foreground) options.onForegroundMigrate!(false);
        }
      }
      if (options.stopped()) break;
      if (options.prompt) prompt();
    }
  } catch {
    // the input failed (a reset connection): the session ends like at end of input
  } finally {
    if (scheduled) clearImmediate(scheduled);
    flush();
  }
}
