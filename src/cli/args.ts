/**
 * @module Small helpers over node:util parseArgs: typed numeric options with range checks, so every
 * bad flag becomes one InvalidRequest line.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InvalidRequest } from '../errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses `argv` against `options`; unknown flags and missing values become InvalidRequest. */
export function parse<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new InvalidRequest((err as Error).message);
  }
}

/** A numeric flag: undefined when absent, InvalidRequest when not a number in [min, max]. */
export function num(value: string | boolean | (string | boolean)[] | undefined, flag: string, opts: { min?: number; max?: number; int?: boolean } = {}): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const { min = -Infinity, max = Infinity, int = false } = opts;
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n))) {
    throw new InvalidRequest(`--${flag} must be ${int ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(value)}`, flag);
  }
  return n;
}

/** The single positional `<model>` argument. */
export function modelArg(positionals: string[], usage: string): string {
  if (positionals.length !== 1) throw new InvalidRequest(`usage: ${usage}`);
  return positionals[0];
}
