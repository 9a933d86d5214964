/**
 * @module A validating reader of GGUF headers (bounds and counts checked before anything is allocated)
 * and of single F32/F16 tensors, for tests and tools.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { InvalidModelFile, UnsupportedModel } from '../errors.ts';
import { GgufType, GgmlType, type GgufValue, type GgufEntry, type GgufTensorInfo, type GgufHeader, ALIGNMENT, MAX_COUNT, MAX_HEADER_BYTES, tensorBytes, pad } from './gguf-format.ts';
import { f16ToF32Array } from './half-float.ts';

/** Thrown inside the parser when the bytes read so far end before the header does. */
class NeedMore extends Error {}

/** A bounds-checked little-endian reader over the first bytes of a file of `fileSize` bytes. */
class Cursor {
  pos = 0;
  private readonly dv: DataView;
  constructor(private readonly buf: Uint8Array, private readonly fileSize: number, private readonly file: string) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  bad(problem: string): InvalidModelFile {
    return new InvalidModelFile(this.file, `bad GGUF header at byte ${this.pos}: ${problem}`);
  }
  need(n: number): number {
    if (this.pos + n > this.fileSize) throw this.bad(`needs ${n} more bytes past the end of the file`);
    if (this.pos + n > this.buf.length) throw new NeedMore();
    const at = this.pos;
    this.pos += n;
    return at;
  }
  remaining(): number { return this.fileSize - this.pos; }
  u8(): number { return this.dv.getUint8(this.need(1)); }
  u32(): number { return this.dv.getUint32(this.need(4), true); }
  u64(): bigint { return this.dv.getBigUint64(this.need(8), true); }
  /** A u64 that must fit in a safe JS number and be at most `max`. */
  count(what: string, max: number): number {
    const v = this.u64();
    if (v > BigInt(max)) throw this.bad(`${what} ${v} exceeds ${max}`);
    return Number(v);
  }
  string(): string {
    const n = this.count('string length', this.remaining() - 8);
    const at = this.need(n);
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + at, n).toString('utf8');
  }
  value(type: number, depth = 0): GgufValue {
    const d = this.dv;
    switch (type) {
      case GgufType.UINT8: return d.getUint8(this.need(1));
      case GgufType.INT8: return d.getInt8(this.need(1));
      case GgufType.UINT16: return d.getUint16(this.need(2), true);
      case GgufType.INT16: return d.getInt16(this.need(2), true);
      case GgufType.UINT32: return d.getUint32(this.need(4), true);
      case GgufType.INT32: return d.getInt32(this.need(4), true);
      case GgufType.FLOAT32: return d.getFloat32(this.need(4), true);
      case GgufType.BOOL: {
        const b = this.u8();
        if (b > 1) throw this.bad(`bool byte ${b}`);
        return b === 1;
      }
      case GgufType.STRING: return this.string();
      case GgufType.UINT64: return d.getBigUint64(this.need(8), true);
      case GgufType.INT64: return d.getBigInt64(this.need(8), true);
      case GgufType.FLOAT64: return d.getFloat64(this.need(8), true);
      case GgufType.ARRAY: {
        if (depth > 4) throw this.bad('arrays nested too deep');
        const itemType = this.u32();
        const n = this.count('array length', this.remaining());
        const out: GgufValue[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.value(itemType, depth + 1);
        return out;
      }
      default: throw this.bad(`unknown metadata type ${type}`);
    }
  }
}

function parseHeader(buf: Uint8Array, fileSize: number, file: string): GgufHeader {
  const c = new Cursor(buf, fileSize, file);
  if (fileSize < 24 || c.u32() !== 0x46554747) throw new InvalidModelFile(file, 'not a GGUF file (no "GGUF" magic)');
  const version = c.u32();
  if (version !== 2 && version !== 3) throw new InvalidModelFile(file, `GGUF version ${version} is not supported (2 or 3)`);
  const nTensors = c.count('tensor count', MAX_COUNT);
  const nKv = c.count('metadata count', MAX_COUNT);
  const metadata = new Map<string, GgufEntry>();
  for (let i = 0; i < nKv; i++) {
    const key = c.string();
    if (metadata.has(key)) throw c.bad(`duplicate key '${key}'`);
    const type = c.u32();
    const at = c.pos;
    const itemType = type === GgufType.ARRAY ? c.u32() : undefined;
    c.pos = at;
    metadata.set(key, { type, ...(itemType === undefined ? {} : { itemType }), value: c.value(type) });
  }
  const align = metadata.get('general.alignment');
  if (align && align.type !== GgufType.UINT32) throw c.bad('general.alignment is not a uint32');
  const alignment = align ? (align.value as number) : ALIGNMENT;
  if (alignment === 0 || (alignment & (alignment - 1)) !== 0) throw c.bad(`alignment ${alignment} is not a power of two`);
  const raw: Omit<GgufTensorInfo, 'byteLength'>[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = c.string();
    if (names.has(name)) throw c.bad(`duplicate tensor '${name}'`);
    names.add(name);
    const nDims = c.u32();
    if (nDims < 1 || nDims > 4) throw c.bad(`tensor '${name}' has ${nDims} dims`);
    const dims = Array.from({ length: nDims }, () => c.count(`dim of '${name}'`, 2 ** 40));
    if (dims.some((d) => d === 0)) throw c.bad(`tensor '${name}' has an empty dim`);
    raw.push({ name, dims, type: c.u32(), offset: c.count(`offset of '${name}'`, fileSize) });
  }
  const dataOffset = pad(c.pos, alignment);
  const dataBytes = fileSize - dataOffset;
  const bad = (problem: string) => new InvalidModelFile(file, `bad GGUF tensor table: ${problem}`);
  const tensors = raw.map((t): GgufTensorInfo => {
    let byteLength: number;
    try {
      byteLength = tensorBytes(t.dims, t.type);
    } catch (err) {
      throw bad(`'${t.name}': ${(err as Error).message}`);
    }
    if (t.offset % alignment !== 0) throw bad(`'${t.name}' offset ${t.offset} is not aligned to ${alignment}`);
    if (t.offset + byteLength > dataBytes) throw bad(`'${t.name}' ends past the end of the file`);
    return { ...t, byteLength };
  });
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const [p, q] = [sorted[i - 1], sorted[i]];
    if (q.offset < p.offset + p.byteLength) throw bad(`tensors '${p.name}' and '${q.name}' overlap`);
  }
  return { version, metadata, tensors, alignment, dataOffset };
}

async function readAt(fh: FileHandle, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  let done = 0;
  while (done < n) {
    const { bytesRead } = await fh.read(buf, done, n - done, done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

/**
 * Reads and validates a GGUF header: magic, version, counts, string and array lengths, tensor dims, types,
 * alignment and that every tensor lies inside the file without overlap. Throws `InvalidModelFile`.
 * @example const h = await readGgufHeader('/tmp/stories.gguf'); h.metadata.get('general.architecture')?.value
 */
export async function readGgufHeader(file: string): Promise<GgufHeader> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (cause) {
    throw new InvalidModelFile(file, `cannot open: ${(cause as Error).message}`, { cause });
  }
  try {
    const size = (await fh.stat()).size;
    const limit = Math.min(size, MAX_HEADER_BYTES);
    for (let n = Math.min(limit, 1 << 20); ; n = Math.min(limit, n * 4)) {
      try {
        return parseHeader(await readAt(fh, n), size, file);
      } catch (err) {
        if (!(err instanceof NeedMore)) throw err;
        if (n >= limit) throw new InvalidModelFile(file, `GGUF header larger than ${MAX_HEADER_BYTES} bytes`);
      }
    }
  } finally {
    await fh.close();
  }
}

/**
 * Reads one F32 or F16 tensor's values as float32, in file order (`dims[0]` contiguous).
 * @example const q = await readGgufTensor(file, header, 'blk.0.attn_q.weight');
 */
export async function readGgufTensor(file: string, header: GgufHeader, name: string): Promise<Float32Array> {
  const t = header.tensors.find((x) => x.name === name);
  if (!t) throw new InvalidModelFile(file, `no tensor '${name}'`);
  if (t.type !== GgmlType.F32 && t.type !== GgmlType.F16) throw new UnsupportedModel(`${name}: ggml type ${t.type} is not F32 or F16`);
  const fh = await open(file, 'r');
  try {
    const buf = new Uint8Array(t.byteLength);
    const { bytesRead } = await fh.read(buf, 0, t.byteLength, header.dataOffset + t.offset);
    if (bytesRead !== t.byteLength) throw new InvalidModelFile(file, `'${name}' is truncated`);
    return t.type === GgmlType.F32 ? new Float32Array(buf.buffer) : f16ToF32Array(new Uint16Array(buf.buffer));
  } finally {
    await fh.close();
  }
}
