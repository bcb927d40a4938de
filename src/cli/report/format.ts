/**
 * Number formatting shared by the progress bar and the report: binary byte units (what
 * `--ram 8M` means), milliseconds and rates. Every function returns text for any number,
 * NaN and Infinity included (as "0"), so a display never shows "NaN".
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** The binary unit that suits `maxBytes`: its name and size (B, KiB, MiB, ...). */
export function byteUnit(maxBytes: number): { name: string; bytes: number } {
  let i = 0;
  const v = Number.isFinite(maxBytes) ? Math.abs(maxBytes) : 0;
  while (i < UNITS.length - 1 && v >= 1024 ** (i + 1)) i++;
  return { name: UNITS[i]!, bytes: 1024 ** i };
}

/** "812 B", "3.4 KiB", "12.3 MiB", "128 MiB": three significant digits at most. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) bytes = 0;
  const u = byteUnit(bytes);
  return `${trim(bytes / u.bytes)} ${u.name}`;
}

/** Bytes per second as "4.0 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** "840 ms", "4.2 s", "1 min 12 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${trim(ms / 1000)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms - m * 60_000) / 1000)} s`;
}

/** A count with thousands separators: "12,345". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) n = 0;
  return Math.round(n).toLocaleString('en-US');
}

/** A fraction 0..1 as "12.5 %". */
export function formatPercent(fraction: number, decimals = 1): string {
  if (!Number.isFinite(fraction)) fraction = 0;
  return `${(fraction * 100).toFixed(decimals)} %`;
}

/** Three significant digits, no trailing zeros beyond one decimal: 3.4, 12.3, 128. */
export function trim(v: number): string {
  if (!Number.isFinite(v)) return '0';
  const a = Math.abs(v);
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  if (a >= 10) return v.toFixed(1).replace(/\.0$/, '');
  return v.toFixed(a >= 1 ? 1 : 2).replace(/\.?0+$/, '') || '0';
}
