/**
 * @module GGUF v3 export for llama.cpp users. Llama and Mistral (full attention) are written as
 * llama.cpp's "llama" architecture, whose RoPE rotates interleaved pairs, so q/k rows (and biases) are
 * permuted back from HF's rotate-halves layout as llama.cpp's convert_hf_to_gguf.py does; Qwen2 is
 * written as "qwen2" (NEOX RoPE = halves, no permutation).
 */
import { open } from 'node:fs/promises';
import { UnsupportedModel } from '../errors.ts';
import { GgufType, GgmlType, type GgufValue, type GgufEntry, type WriteGgufOptions, ALIGNMENT, tensorBytes, pad } from './gguf-format.ts';
import { f32ToF16Array } from './half-float.ts';
import { permuteForInterleavedRope } from './llama2c.ts';
import type { LlamaModel, Matrix, Tokenizer } from './types.ts';

export * from './gguf-format.ts';
export { readGgufHeader, readGgufTensor } from './gguf-reader.ts';

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
