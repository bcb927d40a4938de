/**
 * Lines of a byte stream for the human monitor, with a bound: a line longer than `maxBytes`
 * is reported once (as `{ tooLong }`) and skipped up to its newline, without ever being held
 * in memory, so a client that sends megabytes without a newline cannot grow the process.
 * Reads only as fast as the consumer takes lines (a running `migrate` holds the next command).
 */

export type MonitorLine = { line: string } | { tooLong: number };

/** HMP's cap on one command line. */
export const MAX_HMP_LINE_BYTES = 64 * 1024;

const LF = 0x0a;

/** Yields each line (without "\n" or "\r\n") and `{ tooLong }` for each line over the cap. A last line without "\n" counts. */
export async function* readMonitorLines(input: AsyncIterable<Buffer | string>, maxBytes = MAX_HMP_LINE_BYTES): AsyncGenerator<MonitorLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  for await (const data of input) {
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(LF, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!skipping) {
        size += end - start;
        if (size > maxBytes) {
          skipping = true;
          parts = [];
          yield { tooLong: maxBytes };
        } else if (end > start) {
          parts.push(Buffer.from(chunk.subarray(start, end)));
        }
      }
      if (nl < 0) break;
      if (!skipping) yield { line: stripCr(Buffer.concat(parts).toString('utf8')) };
      parts = [];
      size = 0;
      skipping = false;
      start = nl + 1;
    }
  }
  if (!skipping && size > 0) yield { line: stripCr(Buffer.concat(parts).toString('utf8')) };
}

function stripCr(s: string): string {
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}
