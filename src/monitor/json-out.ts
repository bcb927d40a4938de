/**
 * JSON for monitors and event lines that never holds NaN or Infinity: a non-finite number
 * (which JSON.stringify would turn into `null` where a client expects a number) becomes 0.
 */

/** One JSON text without NaN/Infinity (bigints as numbers). */
export function toSafeJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) return 0;
    if (typeof v === 'bigint') return Number(v);
    return v;
  });
}
