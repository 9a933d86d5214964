/**
 * @module The safetensors format (8-byte little-endian header length, JSON header, raw data): a reader
 * that validates the header before trusting any of it, and a writer. Tensors are float32 in memory;
 * F16 and BF16 are converted on load and on save (round to nearest even).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { InvalidModelFile, UnsupportedModel } from '../errors.ts';
import { bf16ToF32Array, f16ToF32Array, f32ToBf16Array, f32ToF16Array } from './half-float.ts';
import type { DType } from './types.ts';

/** A tensor as read: float32 values, with the dtype it had in the file. */
export interface SafeTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array;
}

/** A tensor to write: float32 values, stored as `dtype`. */
export interface TensorToWrite extends SafeTensor {
  name: string;
}

/** One header entry, validated; `begin`/`end` are byte offsets inside the data section. */
export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** A validated header: its entries (file order), `__metadata__`, and where the data section starts. */
export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  dataStart: number;
}

/** Options of the readers: `only` selects the tensors to load (all by default). */
export interface ReadSafetensorsOptions {
  only?: (name: string) => boolean;
}

/** Largest header accepted (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Byte sizes of every dtype the format defines; only F32, F16 and BF16 can be loaded. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

const isLoadable = (dtype: string): dtype is DType => dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * Validates a header's JSON text against a data section of `dataLength` bytes. Every problem throws
 * `InvalidModelFile(file, ...)`; nothing in the header is trusted before it is checked.
 */
export function parseSafetensorsHeader(text: string, dataLength: number, dataStart: number, file: string): SafetensorsHeader {
  const bad = (problem: string) => new InvalidModelFile(file, `safetensors header: ${problem}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad('not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('not a JSON object');
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('__metadata__ is not an object');
      if (!Object.values(value).every((v) => typeof v === 'string')) throw bad('__metadata__ values must be strings');
      metadata = value as Record<string, string>;
      continue;
    }
    if (typeof value !== 'object' || value === null) throw bad(`entry '${name}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string') throw bad(`tensor '${name}' has no dtype`);
    const size = DTYPE_BYTES[dtype];
    if (!Object.hasOwn(DTYPE_BYTES, dtype) || size === undefined) throw bad(`tensor '${name}' has unknown dtype '${dtype}'`);
    if (!Array.isArray(shape) || !shape.every(isCount)) throw bad(`tensor '${name}' shape must be a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw bad(`tensor '${name}' data_offsets must be two non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLength) {
      throw bad(`tensor '${name}' data_offsets [${begin}, ${end}] lie outside the data section (${dataLength} bytes)`);
    }
    let count = 1;
    for (const d of shape as number[]) {
      count *= d;
      if (count * size > dataLength) throw bad(`tensor '${name}' shape [${shape.join(', ')}] is larger than the file`);
    }
    if (count * size !== end - begin) {
      throw bad(`tensor '${name}' shape [${shape.join(', ')}] x ${dtype} needs ${count * size} bytes, data_offsets give ${end - begin}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    const [prev, cur] = [sorted[i - 1], sorted[i]];
    if (cur.begin < prev.end) throw bad(`tensors '${prev.name}' and '${cur.name}' overlap`);
  }
  return { entries, metadata, dataStart };
}

/** Checks the 8-byte length prefix against the file size; returns the header length. */
function headerLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) throw new InvalidModelFile(file, `too short for a safetensors file (${fileSize} bytes)`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new InvalidModelFile(file, `safetensors header length ${n} exceeds ${MAX_HEADER_BYTES} bytes`);
  if (n > BigInt(fileSize - 8)) throw new InvalidModelFile(file, `truncated: header length ${n} but only ${fileSize - 8} bytes follow`);
  return Number(n);
}

function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidModelFile(file, 'safetensors header is not valid UTF-8');
  }
}

function assertLoadable(entry: SafetensorsEntry, file: string): void {
  if (!isLoadable(entry.dtype)) {
    throw new UnsupportedModel(`${file}: tensor '${entry.name}' has dtype ${entry.dtype}; flatgate loads F32, F16 and BF16 only`);
  }
}

/** Float32 values of a tensor's raw little-endian bytes; F32 data is used in place (not copied) when aligned. */
function toFloat32(entry: SafetensorsEntry, raw: Uint8Array, file: string): Float32Array {
  assertLoadable(entry, file);
  const size = entry.dtype === 'F32' ? 4 : 2;
  const aligned = raw.byteOffset % size === 0 ? raw : Uint8Array.prototype.slice.call(raw);
  if (entry.dtype === 'F32') return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
  const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
  return entry.dtype === 'F16' ? f16ToF32Array(halves) : bf16ToF32Array(halves);
}

/** Reads the header of a safetensors file (and nothing else), validated. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const fh = await openForRead(file);
  try {
    return await readHeader(fh, file);
  } finally {
    await fh.close();
  }
}

type Handle = Awaited<ReturnType<typeof open>>;

/** Opens `file` for reading; a missing file or a folder is an InvalidModelFile. */
async function openForRead(file: string): Promise<Handle> {
  try {
    const fh = await open(file, 'r');
    if ((await fh.stat()).isFile()) return fh;
    await fh.close();
    throw new InvalidModelFile(file, 'is not a regular file');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InvalidModelFile(file, 'does not exist', { cause: err });
    throw err;
  }
}

async function readExactly(fh: Handle, length: number, position: number, file: string): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new InvalidModelFile(file, 'truncated while reading (file shrank?)');
    done += bytesRead;
  }
  return buf;
}

async function readHeader(fh: Handle, file: string): Promise<SafetensorsHeader> {
  const { size } = await fh.stat();
  const n = headerLength(size >= 8 ? await readExactly(fh, 8, 0, file) : new Uint8Array(8), size, file);
  const text = decodeUtf8(await readExactly(fh, n, 8, file), file);
  return parseSafetensorsHeader(text, size - 8 - n, 8 + n, file);
}

/**
 * Reads a safetensors file into float32 tensors. The header is read and validated first, so a lying
 * header never causes a large allocation; then each selected tensor is read on its own.
 * @example const tensors = await readSafetensors('model.safetensors', { only: (n) => n.startsWith('model.') });
 */
export async function readSafetensors(file: string, opts: ReadSafetensorsOptions = {}): Promise<Map<string, SafeTensor>> {
  const fh = await openForRead(file);
  try {
    const header = await readHeader(fh, file);
    const out = new Map<string, SafeTensor>();
    for (const e of header.entries) {
      if (opts.only && !opts.only(e.name)) continue;
      assertLoadable(e, file);
      const raw = await readExactly(fh, e.end - e.begin, header.dataStart + e.begin, file);
      out.set(e.name, { dtype: e.dtype as DType, shape: e.shape, data: toFloat32(e, raw, file) });
    }
    return out;
  } finally {
    await fh.close();
  }
}

/**
 * Reads one tensor of a safetensors file whose header was read before, synchronously (for weights read
 * on access, see hf-folder.ts). The file must not have changed since.
 */
export function readTensorSync(file: string, header: SafetensorsHeader, entry: SafetensorsEntry): Float32Array {
  assertLoadable(entry, file);
  const length = entry.end - entry.begin;
  const raw = new Uint8Array(length);
  const fd = openSync(file, 'r');
  try {
    for (let done = 0; done < length; ) {
      const n = readSync(fd, raw, done, length - done, header.dataStart + entry.begin + done);
      if (n === 0) throw new InvalidModelFile(file, 'truncated while reading (file shrank?)');
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return toFloat32(entry, raw, file);
}

/** The in-memory variant of {@link readSafetensors}: decodes a whole file held in `bytes`. */
export function decodeSafetensors(bytes: Uint8Array, file = '<buffer>', opts: ReadSafetensorsOptions = {}): Map<string, SafeTensor> {
  const n = headerLength(bytes.subarray(0, 8), bytes.byteLength, file);
  const header = parseSafetensorsHeader(decodeUtf8(bytes.subarray(8, 8 + n), file), bytes.byteLength - 8 - n, 8 + n, file);
  const out = new Map<string, SafeTensor>();
  for (const e of header.entries) {
    if (opts.only && !opts.only(e.name)) continue;
    const raw = Uint8Array.prototype.slice.call(bytes, header.dataStart + e.begin, header.dataStart + e.end);
    out.set(e.name, { dtype: e.dtype as DType, shape: e.shape, data: toFloat32(e, raw, file) });
  }
  return out;
}

/**
 * The bytes of one tensor stored as `dtype` (little-endian). Its length is checked here, as it is
 * written, not in the header: a tensor whose data is read on access is then read once.
 */
function tensorBytes(t: TensorToWrite, file: string): Uint8Array {
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) throw new InvalidModelFile(file, `tensor '${t.name}' has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
  if (t.dtype === 'F32') return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const halves = t.dtype === 'F16' ? f32ToF16Array(t.data) : f32ToBf16Array(t.data);
  return new Uint8Array(halves.buffer, halves.byteOffset, halves.byteLength);
}

/** The length prefix and space-padded header (a multiple of 8 bytes) for `tensors`, in order. */
function encodeHeader(tensors: TensorToWrite[], metadata: Record<string, string> | undefined, file: string): Uint8Array {
  const header: Record<string, unknown> = Object.create(null);
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every(isCount)) throw new InvalidModelFile(file, `tensor '${t.name}' shape must be a list of non-negative integers`);
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) throw new InvalidModelFile(file, `duplicate tensor name '${t.name}'`);
    const bytes = count * (DTYPE_BYTES[t.dtype] ?? 4);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

/** A whole safetensors file in memory (for small files and tests). */
export function encodeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const parts = [encodeHeader(tensors, metadata, '<buffer>'), ...tensors.map((t) => tensorBytes(t, '<buffer>'))];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Writes `tensors` (in the order given) as a safetensors file, converting to each tensor's dtype.
 * Writes to a temporary file beside `file`, then renames it into place.
 * @example await writeSafetensors('model.safetensors', [{ name: 'w', dtype: 'F16', shape: [2], data }], { format: 'pt' });
 */
export async function writeSafetensors(file: string, tensors: TensorToWrite[], metadata?: Record<string, string>): Promise<void> {
  const header = encodeHeader(tensors, metadata, file);
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.write(header);
    for (const t of tensors) await fh.write(tensorBytes(t, file));
    await fh.close();
    await rename(tmp, file);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}
