/**
 * Sizes and rates as people type them: a number with an optional k/m/g/t suffix (powers of
 * 1024, case-insensitive, optionally followed by "b" or "ib"), or a plain "b" for bytes:
 * `512M`, `64m`, `1.5G`, `4KiB`, `4096`, `4096b`. Anything else is an error naming the option.
 */
import { InvalidArgumentError } from '../errors.js';

export type SizeUnit = '' | 'k' | 'm' | 'g' | 't';

const UNITS: Readonly<Record<SizeUnit, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** number, then an optional unit: k/m/g/t (+ "b" or "ib"), or a lone "b" (bytes, whatever the default unit). */
const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|(b))?\s*$/i;

/**
 * Parses `text` as bytes. `defaultUnit` applies to a bare number: QEMU's HMP reads
 * `migrate_set_speed`, `migrate_set_cache_size` and the max-bandwidth parameter in MiB, the
 * xbzrle-cache-size parameter in bytes.
 * @throws InvalidArgumentError naming `what` and the text: not a size, too large for an exact
 *   number, or a fraction of a byte.
 */
export function parseSize(text: string, what: string, defaultUnit: SizeUnit = ''): number {
  const m = SIZE_RE.exec(String(text));
  if (!m) throw new InvalidArgumentError(`invalid ${what} '${text}': expected a number with an optional k, m, g or t suffix (powers of 1024)`);
  const unit: SizeUnit = m[2] ? (m[2].toLowerCase() as SizeUnit) : m[3] ? '' : defaultUnit;
  const v = Number(m[1]) * UNITS[unit];
  if (!Number.isSafeInteger(Math.round(v))) throw new InvalidArgumentError(`invalid ${what} '${text}': too large (at most ${Number.MAX_SAFE_INTEGER} bytes)`);
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
