/**
 * Sizes and rates as people type them: a number with an optional k/m/g/t suffix (powers of
 * 1024, case-insensitive, an optional trailing "b" / "iB"), e.g. `512M`, `64m`, `1.5G`, `4096`.
 * Anything else is an error naming the option.
 */
import { InvalidArgumentError } from '../errors.js';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Parses `text` as bytes. `defaultUnit` applies to a bare number (QEMU's max-bandwidth is
 * in MiB when no suffix is given; sizes are bytes).
 * @throws InvalidArgumentError naming `what` and the text.
 */
export function parseSize(text: string, what: string, defaultUnit: '' | 'k' | 'm' | 'g' | 't' = ''): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtKMGT]?)(?:i?[bB])?\s*$/.exec(String(text));
  if (!m) throw new InvalidArgumentError(`invalid ${what} '${text}': expected a number with an optional k, m, g or t suffix (powers of 1024)`);
  const unit = m[2] ? m[2].toLowerCase() : defaultUnit;
  const v = Number(m[1]) * UNITS[unit]!;
  if (!Number.isFinite(v) || !Number.isSafeInteger(Math.round(v))) throw new InvalidArgumentError(`invalid ${what} '${text}': too large`);
  if (!Number.isInteger(v)) throw new InvalidArgumentError(`invalid ${what} '${text}': not a whole number of bytes`);
  return v;
}

/** Bytes in the largest unit that keeps it whole, e.g. 67108864 → "64M". */
export function formatSize(bytes: number): string {
  for (const [u, f] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes >= f && bytes % f === 0) return `${bytes / f}${u}`;
  }
  return `${bytes}`;
}
