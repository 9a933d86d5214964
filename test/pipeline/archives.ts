/**
 * @module Upload archives for the pipeline tests: stories260K as tar.gz, and bad archives (traversal,
 * absolute path, symlink, lying safetensors header, absurd config, not an archive).
 */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { loadModel } from '../../src/model/load.ts';
import { saveHfFolder } from '../../src/model/save-hf.ts';

export const STORIES_DIR = new URL('../../fixtures/models/stories260K/', import.meta.url).pathname;
export { CALIB_TEXT as CALIB_FILE, EVAL_TEXT as EVAL_FILE } from '../fixtures/paths.ts';

/** One tar entry. */
export type Entry = { name: string; data?: Uint8Array | string; type?: 'file' | 'directory' | 'symlink'; linkname?: string };

/** A tar (gzipped unless `gzip` is false) of `entries`. */
export async function makeTar(entries: Entry[], gzip = true): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((r) => pack.on('end', r));
  for (const e of entries) {
    if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname ?? '/etc/passwd' });
    else if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory' });
    else pack.entry({ name: e.name }, Buffer.from(e.data ?? ''));
  }
  pack.finalize();
  await ended;
  const raw = Buffer.concat(chunks);
  return gzip ? gzipSync(raw) : raw;
}

/** stories260K (llama2.c .bin + tokenizer) as a tar.gz, the way a user would pack it. */
export async function storiesTarGz(): Promise<Buffer> {
  return makeTar([
    { name: 'stories260K/', type: 'directory' },
    { name: 'stories260K/stories260K.bin', data: await readFile(join(STORIES_DIR, 'stories260K.bin')) },
    { name: 'stories260K/tok512.bin', data: await readFile(join(STORIES_DIR, 'tok512.bin')) },
  ]);
}

/** The files of stories260K as an HF folder, as tar entries under `prefix`. */
export async function storiesHfEntries(prefix = 'model/'): Promise<Entry[]> {
  const dir = await mkdtemp(join(tmpdir(), 'fg-hf-'));
  await saveHfFolder(dir, await loadModel(join(STORIES_DIR, 'stories260K.bin')));
  const files = await readdir(dir);
  return Promise.all(files.map(async (f) => ({ name: prefix + f, data: await readFile(join(dir, f)) })));
}

/** A safetensors file whose header claims data beyond the end of the file. */
export function lyingSafetensors(file: Uint8Array): Uint8Array {
  const buf = Buffer.from(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets?: [number, number] }>;
  const name = Object.keys(header).find((k) => k !== '__metadata__')!;
  header[name].data_offsets = [header[name].data_offsets![0], header[name].data_offsets![1] + 10_000_000];
  let text = JSON.stringify(header);
  text = text.padEnd(Math.ceil(text.length / 8) * 8, ' ');
  const out = Buffer.alloc(8 + text.length + (buf.length - 8 - n));
  out.writeBigUInt64LE(BigInt(text.length), 0);
  out.write(text, 8, 'utf8');
  buf.copy(out, 8 + text.length, 8 + n);
  return out;
}

/** Every bad upload of the acceptance list, by label. */
export async function badArchives(): Promise<Record<string, Buffer>> {
  const hf = await storiesHfEntries();
  const withFile = (name: string, f: (d: Uint8Array) => Uint8Array | string) =>
    hf.map((e) => (e.name.endsWith(name) ? { ...e, data: f(e.data as Uint8Array) } : e));
  const absurd = (d: Uint8Array) => JSON.stringify({ ...JSON.parse(Buffer.from(d).toString('utf8')), hidden_size: 1_000_000_000, intermediate_size: 4_000_000_000 });
  return {
    'not an archive': Buffer.from('this is plainly not a tar archive, just some text\n'.repeat(50)),
    'traversal path': await makeTar([...hf, { name: '../x', data: 'escape' }]),
    'absolute path': await makeTar([{ name: '/tmp/flatgate-abs-x', data: 'abs' }, ...hf]),
    symlink: await makeTar([...hf, { name: 'model/link', type: 'symlink', linkname: '/etc/passwd' }]),
    'lying safetensors header': await makeTar(withFile('model.safetensors', lyingSafetensors)),
    'absurd config': await makeTar(withFile('config.json', absurd)),
  };
}

/** Writes `bytes` to a temp file and returns its path. */
export async function tempFile(bytes: Uint8Array, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fg-file-'));
  await writeFile(join(dir, name), bytes);
  return join(dir, name);
}
