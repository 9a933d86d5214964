/**
 * @module Safe, streaming extraction of an uploaded model archive (.tar or .tar.gz, gzip detected by its
 * magic bytes): no absolute or `..` paths, no links or devices, bounded size and entry count, bounded
 * tar metadata. Returns the folder that holds the model.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { InvalidModelFile, InvalidRequest } from '../errors.ts';

/** Options of {@link extractModelArchive}. */
export interface ExtractArchiveOptions {
  /** Most bytes of file data to extract (default 256 GiB). */
  maxBytes?: number;
  /** Most entries (files and folders) to accept (default 10,000). */
  maxEntries?: number;
  /** Name of the archive in error messages (default: the path, or "archive" for a stream). */
  name?: string;
  /**
   * Most extracted bytes per archive byte read (default 20): model weights hardly compress, so a far
   * higher ratio is a decompression bomb. Not checked below {@link RATIO_FLOOR} extracted bytes.
   */
  maxRatio?: number;
}

export const DEFAULT_MAX_ARCHIVE_BYTES = 256 * 2 ** 30;
export const DEFAULT_MAX_ARCHIVE_ENTRIES = 10_000;
export const DEFAULT_MAX_RATIO = 20;
/** Extracted bytes below which the compression ratio is not checked (small configs compress well). */
export const RATIO_FLOOR = 64 * 2 ** 20;
/** Limits on entry names: bytes per path segment (common filesystems' 255), segments, and whole path. */
const MAX_SEGMENT_BYTES = 255;
const MAX_DEPTH = 32;
const MAX_PATH_BYTES = 1024;
/** Most tar bytes that may be fed ahead of the data consumed (bounds pax / GNU long headers in memory). */
const METADATA_SLACK = 16 * 2 ** 20;

/** The chunks of `source`, gunzipped when they start with the gzip magic bytes 1f 8b. */
async function* decompressed(source: AsyncIterable<Uint8Array | string>, onRead: (n: number) => void): AsyncGenerator<Uint8Array> {
  const inner = source[Symbol.asyncIterator]();
  const it = {
    next: async () => {
      const r = await inner.next();
      if (!r.done) onRead(r.value.length);
      return r;
    },
  };
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < 2) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head = Buffer.concat([head, Buffer.from(r.value)]);
  }
  async function* rest(): AsyncGenerator<Uint8Array> {
    if (head.length > 0) yield head;
    if (ended) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield Buffer.from(r.value);
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    yield* pipeline(Readable.from(rest()), createGunzip(), () => undefined) as AsyncIterable<Uint8Array>;
  } else {
    yield* rest();
  }
}

/** The archive path of an entry, normalised; throws on absolute paths and `..` segments. */
function safeRelativePath(name: string, bad: (p: string) => Error): string {
  if (name.includes('\0')) throw bad(`entry name contains a NUL byte`);
  if (/^([\\/]|[a-zA-Z]:)/.test(name)) throw bad(`entry '${name}' has an absolute path`);
  const parts = name.split(/[\\/]+/).filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw bad(`entry '${name}' has a '..' path segment`);
  const short = name.length > 80 ? `${name.slice(0, 80)}...` : name;
  if (parts.some((p) => Buffer.byteLength(p) > MAX_SEGMENT_BYTES)) throw bad(`entry '${short}' has a file or folder name over ${MAX_SEGMENT_BYTES} bytes`);
  if (parts.length > MAX_DEPTH) throw bad(`entry '${short}' is nested deeper than ${MAX_DEPTH} folders`);
  const rel = parts.join('/');
  if (Buffer.byteLength(rel) > MAX_PATH_BYTES) throw bad(`entry '${short}' has a path over ${MAX_PATH_BYTES} bytes`);
  return rel;
}

/** The shallowest unique folder among `dirs` ('' is the root), or null if there are none. */
function shallowest(dirs: string[], what: string, bad: (p: string) => Error): string | null {
  const unique = [...new Set(dirs)];
  if (unique.length === 0) return null;
  const depth = (d: string) => (d === '' ? 0 : d.split('/').length);
  const min = Math.min(...unique.map(depth));
  const top = unique.filter((d) => depth(d) === min);
  if (top.length > 1) throw bad(`several folders hold ${what}: ${top.map((d) => d || '.').join(', ')}`);
  return top[0];
}

const isJunk = (path: string) => path.startsWith('__MACOSX/') || /(^|\/)\._/.test(path);

/**
 * Extracts a .tar or .tar.gz (path or stream) into `destDir` (created if needed; must be empty) and
 * returns the folder holding the model: the shallowest one with a config.json, else the shallowest with
 * a llama2.c `.bin`. Rejects with `InvalidModelFile` on absolute or `..` paths, links, devices, too many
 * entries, more than `maxBytes` of data, input that is not a tar, or an archive without a model; on
 * failure whatever was extracted is removed again.
 * @example const modelDir = await extractModelArchive('upload.tar.gz', await mkdtemp(join(tmpdir(), 'm-')));
 */
export async function extractModelArchive(
  input: string | NodeJS.ReadableStream,
  destDir: string,
  opts: ExtractArchiveOptions = {},
): Promise<string> {
  const label = opts.name ?? (typeof input === 'string' ? input : 'archive');
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_ARCHIVE_BYTES;
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ARCHIVE_ENTRIES;
  const maxRatio = opts.maxRatio ?? DEFAULT_MAX_RATIO;
  const bad = (problem: string) => new InvalidModelFile(label, problem);
  const root = resolve(destDir);
  await mkdir(root, { recursive: true });
  if ((await readdir(root)).length > 0) throw new InvalidRequest(`extraction folder ${root} is not empty`);

  const source = (typeof input === 'string' ? createReadStream(input) : input) as AsyncIterable<Uint8Array | string>;
  const extract = tar.extract();
  let fed = 0;
  let consumed = 0;
  let read = 0;
  const feeding = (async () => {
    for await (const chunk of decompressed(source, (n) => (read += n))) {
      if (extract.destroyed) return;
      fed += chunk.length;
      if (fed - consumed > METADATA_SLACK) throw bad(`tar metadata (pax or GNU long headers) exceeds ${METADATA_SLACK} bytes`);
      if (!extract.write(chunk)) {
        await new Promise<void>((done) => {
          const settle = () => {
            extract.off('drain', settle).off('close', settle);
            done();
          };
          extract.on('drain', settle).on('close', settle);
        });
      }
    }
    extract.end();
  })().catch((err: unknown) => extract.destroy(err as Error));

  try {
    const ratio = (extracted: number) => {
      if (extracted > RATIO_FLOOR && extracted > read * maxRatio) throw bad(`decompresses to more than ${maxRatio} times its size (a decompression bomb?)`);
    };
    const files = await extractEntries(extract, root, { maxBytes, maxEntries }, bad, (n) => (consumed += n), ratio);
    await feeding;
    return modelFolder(root, files, bad);
  } catch (err) {
    extract.destroy();
    for (const f of await readdir(root)) await rm(join(root, f), { recursive: true, force: true });
    throw asArchiveError(err, bad);
  }
}

/** Writes every entry under `root`; returns the relative paths of the files written. */
async function extractEntries(
  extract: tar.Extract,
  root: string,
  limits: { maxBytes: number; maxEntries: number },
  bad: (problem: string) => Error,
  onConsumed: (bytes: number) => void,
  checkRatio: (extracted: number) => void,
): Promise<string[]> {
  const files: string[] = [];
  let entries = 0;
  let bytes = 0;
  for await (const entry of extract) {
    const { name, type, size = 0 } = entry.header;
    if (++entries > limits.maxEntries) throw bad(`more than ${limits.maxEntries} entries`);
    const rel = safeRelativePath(name, bad);
    const dest = rel === '' ? root : join(root, rel);
    if (dest !== root && !dest.startsWith(root + sep)) throw bad(`entry '${name}' escapes the extraction folder`);
    onConsumed(2048);
    const clash = (err: NodeJS.ErrnoException) => {
      throw ['EEXIST', 'EISDIR', 'ENOTDIR'].includes(err.code ?? '') ? bad(`entry '${name}' clashes with an earlier entry`) : err;
    };
    if (type === 'directory') {
      await mkdir(dest, { recursive: true }).catch(clash);
      entry.resume();
      continue;
    }
    if (type !== 'file' && type !== 'contiguous-file') throw bad(`entry '${name}' is a ${type ?? 'unknown type'}; only files and folders are allowed`);
    if (rel === '') throw bad(`file entry '${name}' has an empty path`);
    if (bytes + size > limits.maxBytes) throw bad(`extracted data would exceed ${limits.maxBytes} bytes`);
    await mkdir(dirname(dest), { recursive: true }).catch(clash);
    const fh = await open(dest, 'wx', 0o644).catch(clash);
    try {
      for await (const chunk of entry as AsyncIterable<Uint8Array>) {
        bytes += chunk.length;
        onConsumed(chunk.length);
        if (bytes > limits.maxBytes) throw bad(`extracted data would exceed ${limits.maxBytes} bytes`);
        checkRatio(bytes);
        await fh.write(chunk);
      }
    } finally {
      await fh.close();
    }
    files.push(rel);
  }
  if (entries === 0) throw bad('the archive is empty');
  return files;
}

/** The folder holding the model: shallowest config.json, else shallowest llama2.c `.bin`. */
function modelFolder(root: string, files: string[], bad: (problem: string) => Error): string {
  const wanted = files.filter((f) => !isJunk(f));
  const parent = (f: string) => (f.includes('/') ? f.slice(0, f.lastIndexOf('/')) : '');
  const base = (f: string) => f.slice(f.lastIndexOf('/') + 1);
  const dir =
    shallowest(wanted.filter((f) => base(f) === 'config.json').map(parent), 'a config.json', bad) ??
    shallowest(wanted.filter((f) => f.endsWith('.bin')).map(parent), 'a .bin checkpoint', bad);
  if (dir === null) throw bad('no config.json or .bin checkpoint in the archive');
  return dir === '' ? root : join(root, dir);
}

/** Our own errors pass through; tar, gzip and missing-input errors become InvalidModelFile. */
function asArchiveError(err: unknown, bad: (p: string) => Error): unknown {
  if (err instanceof InvalidModelFile || err instanceof InvalidRequest) return err;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return bad('cannot be read');
  if (e?.code === 'ENAMETOOLONG') return bad('an entry has a path too long to extract');
  if (['EEXIST', 'EISDIR', 'ENOTDIR'].includes(e?.code ?? '')) return bad('entries clash with each other');
  if (typeof e?.code === 'string' && e.code.startsWith('Z_')) return bad(`corrupt gzip data (${e.message})`);
  if (/tar header|Unexpected end of data/i.test(e?.message ?? '')) return bad(`not a valid tar archive (${e.message})`);
  return err;
}
