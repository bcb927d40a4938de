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
