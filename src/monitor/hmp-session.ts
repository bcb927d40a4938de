/**
 * Runs an HMP monitor over a pair of streams (standard input/output, or a socket): one
 * command at a time, in order, so that `migrate` without -d finishes before the next line
 * is read. A `(livemig) ` prompt is shown only on a terminal, so scripts get plain output.
 * Resolves at end of input (after the running command) or on `quit`.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Hmp } from './hmp.js';

export const PROMPT = '(livemig) ';

export async function runHmpSession(hmp: Hmp, input: Readable, output: Writable, options: { prompt: boolean; stopped: () => boolean }): Promise<void> {
  const rl = createInterface({ input, crlfDelay: Infinity, terminal: false });
  const write = (s: string) => {
    if (!output.writableEnded && !output.destroyed) output.write(s);
  };
  if (options.prompt) write(PROMPT);
  try {
    for await (const line of rl) {
      if (line.length > 64 * 1024) {
        write('Error: command line longer than 64 KiB\n');
      } else {
        const text = await hmp.execute(line);
        if (text.length > 0) write(text + '\n');
      }
      if (options.stopped()) break;
      if (options.prompt) write(PROMPT);
    }
  } finally {
    rl.close();
  }
}
