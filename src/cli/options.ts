/** Option parsers for the command line: every bad value is an error naming the option. */
import { InvalidArgumentError as CommanderInvalid } from 'commander';
import { parseSize } from '../monitor/index.js';

export function sizeOption(name: string): (v: string) => number {
  return (v) => {
    try {
      const n = parseSize(v, name);
      if (n <= 0) throw new Error(`${name} must be more than 0`);
      return n;
    } catch (e) {
      throw new CommanderInvalid((e as Error).message);
    }
  };
}

export function rateOption(name: string): (v: string) => number {
  return (v) => {
    try {
      return parseSize(v, name);
    } catch (e) {
      throw new CommanderInvalid((e as Error).message);
    }
  };
}

export function intOption(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new CommanderInvalid(`${name} must be a whole number from ${min} to ${max}, got '${v}'`);
    return Number(v);
  };
}

export function choiceOption<T extends string>(name: string, choices: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(choices as readonly string[]).includes(v)) throw new CommanderInvalid(`${name} must be one of ${choices.join(', ')}, got '${v}'`);
    return v as T;
  };
}

const PAGE_BYTES = 4096;

/** A size with k/m/g/t suffixes that is a whole number of 4 KiB pages (0 only when `zeroOk`). */
export function pageSizeOption(name: string, zeroOk = false): (v: string) => number {
  return (v) => {
    let n: number;
    try {
      n = parseSize(v, name);
    } catch (e) {
      throw new CommanderInvalid((e as Error).message);
    }
    if (n % PAGE_BYTES !== 0 || (!zeroOk && n === 0)) {
      throw new CommanderInvalid(`${name} must be a ${zeroOk ? '' : 'non-zero '}multiple of ${PAGE_BYTES} bytes (whole pages), got '${v}'`);
    }
    return n;
  };
}

/** A share: a decimal number from 0 (excluded unless `zeroOk`) to 1. */
export function fractionOption(name: string, zeroOk: boolean): (v: string) => number {
  return (v) => {
    const n = /^(\d+(\.\d*)?|\.\d+)$/.test(v) ? Number(v) : NaN;
    if (!(n <= 1) || (zeroOk ? n < 0 : n <= 0)) throw new CommanderInvalid(`${name} must be a number ${zeroOk ? 'from 0' : 'above 0'} to 1, got '${v}'`);
    return n;
  };
}

/** A count per second: a whole number, optionally with k (×1000) or m (×1,000,000): counts, not bytes. */
export function perSecondOption(name: string, max: number): (v: string) => number {
  return (v) => {
    const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(v);
    const n = m ? Math.round(Number(m[1]) * (m[2]?.toLowerCase() === 'k' ? 1e3 : m[2]?.toLowerCase() === 'm' ? 1e6 : 1) * 1e6) / 1e6 : NaN;
    if (!Number.isInteger(n) || n < 0 || n > max) throw new CommanderInvalid(`${name} must be a whole number from 0 to ${max} (k = ×1000, m = ×1000000), got '${v}'`);
    return n;
  };
}
