/**
 * @module GGUF v3 export (for llama.cpp users) and a validating reader of GGUF headers. Llama and Mistral
 * (full attention) are written as llama.cpp's "llama" architecture, whose RoPE rotates interleaved pairs,
 * so q/k rows (and biases) are permuted back from HF's rotate-halves layout as llama.cpp's
 * convert_hf_to_gguf.py does; Qwen2 is written as "qwen2" (NEOX RoPE = halves, no permutation).
 * One file rather than two because writer and reader share the format tables (~400 lines).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { InvalidModelFile, UnsupportedModel } from '../errors.ts';
import { permuteForInterleavedRope } from './llama2c.ts';
import { f16ToF32Array, f32ToF16Array } from './safetensors.ts';
import type { LlamaModel, Matrix, Tokenizer } from './types.ts';

/** GGUF metadata value types (gguf.h `gguf_type`). */
export const GgufType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6,
  BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;

/** ggml tensor types this module writes and sizes (ggml.h `ggml_type`), with bytes per block of elements. */
export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 } as const;
const BLOCK: Record<number, { elems: number; bytes: number }> = {
  0: { elems: 1, bytes: 4 }, 1: { elems: 1, bytes: 2 }, 2: { elems: 32, bytes: 18 }, 8: { elems: 32, bytes: 34 }, 30: { elems: 1, bytes: 2 },
};

/** A metadata value: scalars as numbers (64-bit integers as bigint), arrays with their item type. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];
/** One metadata entry. `itemType` is set for arrays. */
export interface GgufEntry {
  type: number;
  itemType?: number;
  value: GgufValue;
}

/** A tensor's description in the header. `dims` in GGUF order: `dims[0]` is the contiguous axis (columns). */
export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: number;
  /** Offset from the start of the data section (a multiple of the alignment). */
  offset: number;
  byteLength: number;
}

/** A parsed GGUF header. */
export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufEntry>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute file offset of the data section. */
  dataOffset: number;
}

/** Options of {@link writeGguf}. */
export interface WriteGgufOptions {
  /** general.name (default `flatgate`). */
  name?: string;
  /** Type of 2-D weights (norms and biases stay F32). Default F32. */
  dtype?: 'F32' | 'F16';
}

const ALIGNMENT = 32;
const MAX_COUNT = 1 << 24;
/** Largest header read (a 150k-token vocabulary with merges takes ~10 MB). */
const MAX_HEADER_BYTES = 64 << 20;

/** Byte size of a tensor of `type` with `dims`, or throws when the type is unknown or blocks do not fit. */
function tensorBytes(dims: number[], type: number): number {
  const b = BLOCK[type];
  if (!b) throw new RangeError(`ggml type ${type} is not supported`);
  const n = dims.reduce((a, d) => a * d, 1);
  if (dims[0] % b.elems !== 0) throw new RangeError(`row of ${dims[0]} is not a multiple of the block size ${b.elems}`);
  return (n / b.elems) * b.bytes;
}

const pad = (n: number, a: number) => Math.ceil(n / a) * a;

// ---------------------------------------------------------------- writing

interface TensorToWrite {
  name: string;
  dims: number[];
  type: number;
  bytes: () => Uint8Array;
}

/** Appends little-endian GGUF encodings to a growing list of chunks. */
class Encoder {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  private scalar(bytes: number, set: (dv: DataView) => void): void {
    const b = new Uint8Array(bytes);
    set(new DataView(b.buffer));
    this.push(b);
  }
  u32(v: number): void { this.scalar(4, (d) => d.setUint32(0, v, true)); }
  u64(v: number): void { this.scalar(8, (d) => d.setBigUint64(0, BigInt(v), true)); }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  value(type: number, v: GgufValue, itemType?: number): void {
    switch (type) {
      case GgufType.UINT32: return this.u32(v as number);
      case GgufType.INT32: return this.scalar(4, (d) => d.setInt32(0, v as number, true));
      case GgufType.FLOAT32: return this.scalar(4, (d) => d.setFloat32(0, v as number, true));
      case GgufType.BOOL: return this.scalar(1, (d) => d.setUint8(0, v ? 1 : 0));
      case GgufType.STRING: return this.string(v as string);
      case GgufType.UINT64: return this.u64(Number(v));
      case GgufType.ARRAY: {
        const items = v as GgufValue[];
        this.u32(itemType!);
        this.u64(items.length);
        for (const it of items) this.value(itemType!, it);
        return;
      }
      default: throw new RangeError(`writing metadata type ${type} is not implemented`);
    }
  }
  bytes(): Uint8Array { return Buffer.concat(this.chunks, this.length); }
}

const f32Bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The GGUF architecture name for the model, or throws when llama.cpp would not run it exactly. */
function ggufArch(model: LlamaModel): 'llama' | 'qwen2' {
  const c = model.config;
  const windowed = c.slidingWindow !== null && c.slidingWindow < c.maxPositions;
  if (windowed) throw new UnsupportedModel(`GGUF export of sliding-window attention (${c.slidingWindow}) is not exact in llama.cpp`);
  return c.architecture === 'Qwen2ForCausalLM' ? 'qwen2' : 'llama';
}

/** Metadata entries of `model` and `tokenizer` in the order llama.cpp's converter writes them. */
function metadataOf(model: LlamaModel, tokenizer: Tokenizer, arch: string, opts: WriteGgufOptions): [string, GgufEntry][] {
  const c = model.config;
  const vocab = tokenizer.sentencePieceVocab();
  if (!vocab) throw new UnsupportedModel('GGUF export needs a sentencepiece-style tokenizer (tokenizer.ggml.model "llama")');
  if (vocab.pieces.length > c.vocabSize) {
    throw new UnsupportedModel(`tokenizer has ${vocab.pieces.length} tokens, more than the model's ${c.vocabSize}`);
  }
  const pieces = [...vocab.pieces];
  const scores = [...vocab.scores];
  const types = [...vocab.types];
  for (let i = pieces.length; i < c.vocabSize; i++) {
    pieces.push(`[PAD${i}]`);
    scores.push(0);
    types.push(5); // UNUSED, as convert_hf_to_gguf.py pads
  }
  const unk = types.indexOf(2);
  const u32 = (value: number): GgufEntry => ({ type: GgufType.UINT32, value });
  const f32 = (value: number): GgufEntry => ({ type: GgufType.FLOAT32, value });
  const entries: [string, GgufEntry][] = [
    ['general.architecture', { type: GgufType.STRING, value: arch }],
    ['general.name', { type: GgufType.STRING, value: opts.name ?? 'flatgate' }],
    ['general.alignment', u32(ALIGNMENT)],
    ['general.file_type', u32(opts.dtype === 'F16' ? 1 : 0)],
    [`${arch}.vocab_size`, u32(c.vocabSize)],
    [`${arch}.context_length`, u32(c.maxPositions)],
    [`${arch}.embedding_length`, u32(c.hiddenSize)],
    [`${arch}.block_count`, u32(c.numLayers)],
    [`${arch}.feed_forward_length`, u32(c.intermediateSize)],
    [`${arch}.attention.head_count`, u32(c.numHeads)],
    [`${arch}.attention.head_count_kv`, u32(c.numKvHeads)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(c.rmsNormEps)],
    [`${arch}.rope.freq_base`, f32(c.ropeTheta)],
    [`${arch}.rope.dimension_count`, u32(c.headDim)],
  ];
  if (c.headDim * c.numHeads !== c.hiddenSize) {
    entries.push([`${arch}.attention.key_length`, u32(c.headDim)], [`${arch}.attention.value_length`, u32(c.headDim)]);
  }
  entries.push(
    ['tokenizer.ggml.model', { type: GgufType.STRING, value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: GgufType.ARRAY, itemType: GgufType.STRING, value: pieces }],
    ['tokenizer.ggml.scores', { type: GgufType.ARRAY, itemType: GgufType.FLOAT32, value: scores }],
    ['tokenizer.ggml.token_type', { type: GgufType.ARRAY, itemType: GgufType.INT32, value: types }],
    ['tokenizer.ggml.bos_token_id', u32(c.bosTokenId)],
    ['tokenizer.ggml.eos_token_id', u32(c.eosTokenId)],
  );
  if (unk >= 0) entries.push(['tokenizer.ggml.unknown_token_id', u32(unk)]);
  entries.push(
    ['tokenizer.ggml.add_bos_token', { type: GgufType.BOOL, value: true }],
    ['tokenizer.ggml.add_eos_token', { type: GgufType.BOOL, value: false }],
  );
  return entries;
}

/** Tensors of `model` with GGUF names, dims and lazily produced bytes. */
function tensorsOf(model: LlamaModel, arch: string, dtype: 'F32' | 'F16'): TensorToWrite[] {
  const c = model.config;
  const interleave = arch === 'llama';
  const vec = (name: string, v: Float32Array): TensorToWrite => ({
    name, dims: [v.length], type: GgmlType.F32, bytes: () => f32Bytes(v),
  });
  const mat = (name: string, m: () => Matrix, rows: number, cols: number): TensorToWrite => ({
    name,
    dims: [cols, rows],
    type: dtype === 'F16' ? GgmlType.F16 : GgmlType.F32,
    bytes: () => {
      const d = m().data;
      if (dtype === 'F32') return f32Bytes(d);
      const h = f32ToF16Array(d);
      return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
    },
  });
  const plain = (name: string, m: Matrix) => mat(name, () => m, m.rows, m.cols);
  const roped = (name: string, m: Matrix, heads: number) =>
    mat(name, () => (interleave ? permuteForInterleavedRope(m, heads) : m), m.rows, m.cols);
  const ropedBias = (name: string, b: Float32Array, heads: number): TensorToWrite => ({
    ...vec(name, b),
    bytes: () => f32Bytes(interleave ? permuteForInterleavedRope({ rows: b.length, cols: 1, data: b }, heads).data : b),
  });

  const out: TensorToWrite[] = [plain('token_embd.weight', model.embed)];
  model.layers.forEach((l, i) => {
    const p = `blk.${i}`;
    out.push(vec(`${p}.attn_norm.weight`, l.attnNorm), roped(`${p}.attn_q.weight`, l.q, c.numHeads));
    out.push(roped(`${p}.attn_k.weight`, l.k, c.numKvHeads), plain(`${p}.attn_v.weight`, l.v));
    const biased = l.qBias || l.kBias || l.vBias || arch === 'qwen2';
    if (biased) {
      out.push(ropedBias(`${p}.attn_q.bias`, l.qBias ?? new Float32Array(l.q.rows), c.numHeads));
      out.push(ropedBias(`${p}.attn_k.bias`, l.kBias ?? new Float32Array(l.k.rows), c.numKvHeads));
      out.push(vec(`${p}.attn_v.bias`, l.vBias ?? new Float32Array(l.v.rows)));
    }
    out.push(plain(`${p}.attn_output.weight`, l.o), vec(`${p}.ffn_norm.weight`, l.mlpNorm));
    out.push(plain(`${p}.ffn_gate.weight`, l.gate), plain(`${p}.ffn_up.weight`, l.up), plain(`${p}.ffn_down.weight`, l.down));
  });
  out.push(vec('output_norm.weight', model.norm));
  if (model.lmHead) out.push(plain('output.weight', model.lmHead));
  return out;
}

/**
 * Writes `model` with `tokenizer` as a GGUF v3 file that llama.cpp loads (architecture "llama", or "qwen2"
 * for Qwen2). Throws `UnsupportedModel` for a sliding window or a tokenizer without a sentencepiece vocab.
 * @example await writeGguf('/tmp/stories.gguf', model, tokenizer, { name: 'stories260K' });
 */
export async function writeGguf(file: string, model: LlamaModel, tokenizer: Tokenizer, opts: WriteGgufOptions = {}): Promise<void> {
  const arch = ggufArch(model);
  const meta = metadataOf(model, tokenizer, arch, opts);
  const tensors = tensorsOf(model, arch, opts.dtype ?? 'F32');
  const enc = new Encoder();
  enc.u32(0x46554747); // "GGUF"
  enc.u32(3);
  enc.u64(tensors.length);
  enc.u64(meta.length);
  for (const [key, e] of meta) {
    enc.string(key);
    enc.u32(e.type);
    enc.value(e.type, e.value, e.itemType);
  }
  let offset = 0;
  const sizes = tensors.map((t) => tensorBytes(t.dims, t.type));
  tensors.forEach((t, i) => {
    enc.string(t.name);
    enc.u32(t.dims.length);
    for (const d of t.dims) enc.u64(d);
    enc.u32(t.type);
    enc.u64(offset);
    offset = pad(offset + sizes[i], ALIGNMENT);
  });
  const header = enc.bytes();
  const fh = await open(file, 'w');
  try {
    await fh.write(header);
    await fh.write(new Uint8Array(pad(header.length, ALIGNMENT) - header.length));
    for (let i = 0; i < tensors.length; i++) {
      const b = tensors[i].bytes();
      if (b.length !== sizes[i]) throw new RangeError(`${tensors[i].name}: ${b.length} bytes, expected ${sizes[i]}`);
      await fh.write(b);
      await fh.write(new Uint8Array(pad(sizes[i], ALIGNMENT) - sizes[i]));
    }
  } finally {
    await fh.close();
  }
}

// ---------------------------------------------------------------- reading

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
