/**
 * @module Reads the small JSON files of a checkpoint (config.json, tokenizer files, the shard index)
 * with a size cap checked before reading: an uploaded folder is hostile, and a padded config.json must
 * not be read whole into memory.
 */
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { InvalidModelFile } from '../errors.ts';

/** Largest accepted size of each JSON file by name; others get {@link DEFAULT_MAX_JSON_BYTES}. */
export const MAX_JSON_BYTES: Record<string, number> = {
  'config.json': 1 << 20,
  'generation_config.json': 1 << 20,
  'tokenizer_config.json': 8 << 20,
  'model.safetensors.index.json': 32 << 20,
  'tokenizer.json': 64 << 20,
};
export const DEFAULT_MAX_JSON_BYTES = 8 << 20;

/**
 * The parsed JSON at `path`, or null when `optional` and it does not exist. Errors name the file by its
 * base name only (never a server path).
 * @example const config = await readJsonFile(join(dir, 'config.json'));
 */
export async function readJsonFile(path: string, opts: { optional?: boolean; maxBytes?: number } = {}): Promise<unknown> {
  const name = basename(path);
  const max = opts.maxBytes ?? MAX_JSON_BYTES[name] ?? DEFAULT_MAX_JSON_BYTES;
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (opts.optional && code === 'ENOENT') return null;
    throw new InvalidModelFile(name, code === 'ENOENT' ? 'missing' : `cannot be read (${code})`);
  }
  let text: string;
  try {
    const { size, isFile } = await fh.stat().then((s) => ({ size: s.size, isFile: s.isFile() }));
    if (!isFile) throw new InvalidModelFile(name, 'is not a file');
    if (size > max) throw new InvalidModelFile(name, `is ${size} bytes; at most ${max} are accepted`);
    text = await fh.readFile('utf8');
    if (text.length > max) throw new InvalidModelFile(name, `is larger than ${max} bytes`);
  } finally {
    await fh.close();
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidModelFile(name, 'is not valid JSON');
  }
}
