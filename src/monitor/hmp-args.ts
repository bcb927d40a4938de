/**
 * Words and values of an HMP command line, QEMU's way: words split at blanks; a "double
 * quoted" word keeps its blanks (`migrate "exec:cat > f"`) and takes \" and \\ escapes;
 * 'single' quotes keep blanks too. Durations are seconds (QEMU's old `migrate_set_downtime`),
 * optionally with an s/ms/us/ns suffix.
 */
import { InvalidArgumentError } from '../errors.js';

/**
 * Splits a command line into words.
 * @throws InvalidArgumentError on an unterminated quote.
 */
export function tokenize(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (quote === '"' && ch === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) cur += line[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new InvalidArgumentError(`unterminated ${quote} quote`);
  if (inWord) words.push(cur);
  return words;
}

const SECONDS_PER_UNIT: Readonly<Record<string, number>> = { '': 1, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };

/**
 * Parses a duration in seconds (`0.3`, `.5`, `2`, `300ms`) and returns whole milliseconds.
 * @throws InvalidArgumentError naming `what`.
 */
export function parseSecondsToMs(text: string, what: string): number {
  const m = /^(\d+(?:\.\d*)?|\.\d+)(s|ms|us|ns)?$/i.exec(text);
  if (!m) throw new InvalidArgumentError(`invalid ${what} '${text}': expected seconds, e.g. 0.3 (or 300ms)`);
  const ms = Number(m[1]) * SECONDS_PER_UNIT[(m[2] ?? '').toLowerCase()]! * 1000;
  if (!Number.isFinite(ms) || ms > Number.MAX_SAFE_INTEGER) throw new InvalidArgumentError(`invalid ${what} '${text}': too large`);
  return Math.round(ms);
}

/**
 * A whole number ≥ 0 written in decimal.
 * @throws InvalidArgumentError naming `what`.
 */
export function parseWholeNumber(text: string, what: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new InvalidArgumentError(`invalid ${what} '${text}': expected a whole number`);
  return Number(text);
}

/**
 * `on` or `off` (QEMU's HMP booleans).
 * @throws InvalidArgumentError naming `what`.
 */
export function parseOnOff(text: string, what: string): boolean {
  if (text === 'on') return true;
  if (text === 'off') return false;
  throw new InvalidArgumentError(`invalid ${what} '${text}': expected on or off`);
}
