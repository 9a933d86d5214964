import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomModel } from '../../test/fixtures/random-model.ts';
import { InvalidModelFile, UnsupportedModel } from '../errors.ts';
import { GgmlType, GgufType, readGgufHeader, readGgufTensor, writeGguf, type GgufHeader } from './gguf.ts';
import type { LlamaModel, Matrix, SentencePieceVocab, Tokenizer } from './types.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gguf-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A tokenizer with only a sentencepiece vocabulary: unk, bos, eos, 3 byte tokens, then words. */
function fakeTokenizer(n: number, vocab: SentencePieceVocab | null = null): Tokenizer {
  const pieces = ['<unk>', '<s>', '</s>', '<0x00>', '<0x01>', '<0x0A>'];
  for (let i = pieces.length; i < n; i++) pieces.push(`▁w${i}é`);
  const types = pieces.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : i < 6 ? 6 : 1));
  const v = vocab ?? { pieces, scores: pieces.map((_, i) => -i / 4), types };
  return {
    vocabSize: n, bosId: 1, eosId: 2,
    encode: () => [], decode: () => '', toTokenizerJson: () => ({}),
    sentencePieceVocab: () => v,
  };
}

/**
 * The q/k rows as llama.cpp's "llama" architecture wants them, by the closed form of convert_hf_to_gguf.py's
 * permute: file row h*dh + 2i + j holds HF row h*dh + j*dh/2 + i.
 */
function interleavedRows(m: Matrix, heads: number): Float32Array {
  const dh = m.rows / heads;
  const out = new Float32Array(m.data.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < dh / 2; i++) {
      for (let j = 0; j < 2; j++) {
        const src = h * dh + j * (dh / 2) + i;
        const dst = h * dh + 2 * i + j;
        out.set(m.data.subarray(src * m.cols, (src + 1) * m.cols), dst * m.cols);
      }
    }
  }
  return out;
}

const meta = (h: GgufHeader, key: string) => h.metadata.get(key);

describe('writeGguf', () => {
  const model = randomModel({ seed: 3, vocabSize: 40 });
  const tok = fakeTokenizer(37); // padded to 40 with [PAD] tokens
  let file: string;
  let header: GgufHeader;
  beforeAll(async () => {
    file = join(dir, 'llama.gguf');
    await writeGguf(file, model, tok, { name: 'tiny' });
    header = await readGgufHeader(file);
  });

  it('writes the llama metadata llama.cpp reads', () => {
    const c = model.config;
    expect(header.version).toBe(3);
    expect(header.alignment).toBe(32);
    const u32 = (key: string, v: number) => expect(meta(header, key), key).toEqual({ type: GgufType.UINT32, value: v });
    expect(meta(header, 'general.architecture')).toEqual({ type: GgufType.STRING, value: 'llama' });
    expect(meta(header, 'general.name')?.value).toBe('tiny');
    u32('general.alignment', 32);
    u32('llama.context_length', c.maxPositions);
    u32('llama.embedding_length', c.hiddenSize);
    u32('llama.block_count', c.numLayers);
    u32('llama.feed_forward_length', c.intermediateSize);
    u32('llama.attention.head_count', c.numHeads);
    u32('llama.attention.head_count_kv', c.numKvHeads);
    u32('llama.rope.dimension_count', c.headDim);
    u32('tokenizer.ggml.bos_token_id', 1);
    u32('tokenizer.ggml.eos_token_id', 2);
    u32('tokenizer.ggml.unknown_token_id', 0);
    expect(meta(header, 'llama.attention.layer_norm_rms_epsilon')?.type).toBe(GgufType.FLOAT32);
    expect(meta(header, 'llama.attention.layer_norm_rms_epsilon')?.value).toBeCloseTo(1e-5, 10);
    expect(meta(header, 'llama.rope.freq_base')).toEqual({ type: GgufType.FLOAT32, value: 10000 });
    expect(meta(header, 'tokenizer.ggml.model')?.value).toBe('llama');
    expect(meta(header, 'tokenizer.ggml.add_bos_token')).toEqual({ type: GgufType.BOOL, value: true });
  });

  it('writes the vocabulary, padded to the model vocab', () => {
    const src = tok.sentencePieceVocab()!;
    const tokens = meta(header, 'tokenizer.ggml.tokens')!;
    expect(tokens.itemType).toBe(GgufType.STRING);
    expect(tokens.value).toEqual([...src.pieces, '[PAD37]', '[PAD38]', '[PAD39]']);
    const scores = meta(header, 'tokenizer.ggml.scores')!;
    expect(scores.itemType).toBe(GgufType.FLOAT32);
    expect(scores.value).toEqual([...src.scores.map((s) => Math.fround(s)), 0, 0, 0]);
    const types = meta(header, 'tokenizer.ggml.token_type')!;
    expect(types.itemType).toBe(GgufType.INT32);
    expect(types.value).toEqual([...src.types, 5, 5, 5]);
  });

  it('lays out every tensor with GGUF dims, aligned and packed in order', async () => {
    const { hiddenSize: D, numHeads: H, numKvHeads: KV, headDim: dh, intermediateSize: I, vocabSize: V } = model.config;
    const expected: [string, number[]][] = [['token_embd.weight', [D, V]]];
    for (let l = 0; l < model.layers.length; l++) {
      const p = `blk.${l}`;
      expected.push(
        [`${p}.attn_norm.weight`, [D]], [`${p}.attn_q.weight`, [D, H * dh]], [`${p}.attn_k.weight`, [D, KV * dh]],
        [`${p}.attn_v.weight`, [D, KV * dh]], [`${p}.attn_output.weight`, [H * dh, D]], [`${p}.ffn_norm.weight`, [D]],
        [`${p}.ffn_gate.weight`, [D, I]], [`${p}.ffn_up.weight`, [D, I]], [`${p}.ffn_down.weight`, [I, D]],
      );
    }
    expected.push(['output_norm.weight', [D]], ['output.weight', [D, V]]);
    expect(header.tensors.map((t) => [t.name, t.dims])).toEqual(expected);
    let offset = 0;
    for (const t of header.tensors) {
      expect(t.type).toBe(GgmlType.F32);
      expect(t.offset, t.name).toBe(offset);
      expect(t.byteLength).toBe(4 * t.dims.reduce((a, b) => a * b, 1));
      offset = Math.ceil((offset + t.byteLength) / 32) * 32;
    }
    expect(header.dataOffset % 32).toBe(0);
    const size = (await readFile(file)).length;
    expect(size).toBe(header.dataOffset + offset);
  });

  it('stores the weights, with q/k rows in interleaved-RoPE order', async () => {
    const read = (name: string) => readGgufTensor(file, header, name);
    expect(await read('token_embd.weight')).toEqual(model.embed.data);
    expect(await read('output.weight')).toEqual(model.lmHead!.data);
    expect(await read('output_norm.weight')).toEqual(model.norm);
    for (const [l, layer] of model.layers.entries()) {
      const p = `blk.${l}`;
      expect(await read(`${p}.attn_q.weight`)).toEqual(interleavedRows(layer.q, model.config.numHeads));
      expect(await read(`${p}.attn_k.weight`)).toEqual(interleavedRows(layer.k, model.config.numKvHeads));
      expect(await read(`${p}.attn_v.weight`)).toEqual(layer.v.data);
      expect(await read(`${p}.attn_output.weight`)).toEqual(layer.o.data);
      expect(await read(`${p}.ffn_gate.weight`)).toEqual(layer.gate.data);
      expect(await read(`${p}.ffn_up.weight`)).toEqual(layer.up.data);
      expect(await read(`${p}.ffn_down.weight`)).toEqual(layer.down.data);
      expect(await read(`${p}.attn_norm.weight`)).toEqual(layer.attnNorm);
      expect(await read(`${p}.ffn_norm.weight`)).toEqual(layer.mlpNorm);
    }
  });
});

describe('writeGguf variants', () => {
  it('omits output.weight for tied embeddings and writes F16 matrices', async () => {
    const model = randomModel({ seed: 4, tieWordEmbeddings: true, vocabSize: 8 });
    const file = join(dir, 'tied-f16.gguf');
    await writeGguf(file, model, fakeTokenizer(8), { dtype: 'F16' });
    const h = await readGgufHeader(file);
    expect(h.tensors.some((t) => t.name === 'output.weight')).toBe(false);
    expect(meta(h, 'general.file_type')?.value).toBe(1);
    const embd = h.tensors.find((t) => t.name === 'token_embd.weight')!;
    expect(embd.type).toBe(GgmlType.F16);
    expect(h.tensors.find((t) => t.name === 'output_norm.weight')!.type).toBe(GgmlType.F32);
    const back = await readGgufTensor(file, h, 'token_embd.weight');
    back.forEach((x, i) => expect(Math.abs(x - model.embed.data[i])).toBeLessThanOrEqual(Math.abs(model.embed.data[i]) * 2 ** -11 + 1e-7));
  });

  it('writes Qwen2 as qwen2 with biases and HF (NEOX) row order', async () => {
    const model = randomModel({ seed: 5, architecture: 'Qwen2ForCausalLM', vocabSize: 8 });
    const file = join(dir, 'qwen2.gguf');
    await writeGguf(file, model, fakeTokenizer(8));
    const h = await readGgufHeader(file);
    expect(meta(h, 'general.architecture')?.value).toBe('qwen2');
    expect(meta(h, 'qwen2.block_count')?.value).toBe(2);
    expect(await readGgufTensor(file, h, 'blk.0.attn_q.weight')).toEqual(model.layers[0].q.data);
    expect(await readGgufTensor(file, h, 'blk.1.attn_k.bias')).toEqual(model.layers[1].kBias);
  });

  it('permutes q/k biases of a biased llama like the weights', async () => {
    const model = randomModel({ seed: 6, qkvBias: true, vocabSize: 8 });
    const file = join(dir, 'llama-bias.gguf');
    await writeGguf(file, model, fakeTokenizer(8));
    const h = await readGgufHeader(file);
    const l0 = model.layers[0];
    const asColumn = (v: Float32Array): Matrix => ({ rows: v.length, cols: 1, data: v });
    expect(await readGgufTensor(file, h, 'blk.0.attn_q.bias')).toEqual(interleavedRows(asColumn(l0.qBias!), 4));
    expect(await readGgufTensor(file, h, 'blk.0.attn_k.bias')).toEqual(interleavedRows(asColumn(l0.kBias!), 2));
    expect(await readGgufTensor(file, h, 'blk.0.attn_v.bias')).toEqual(l0.vBias);
  });

  it('refuses what llama.cpp would not run exactly', async () => {
    const windowed: LlamaModel = randomModel({ architecture: 'MistralForCausalLM', slidingWindow: 16, vocabSize: 8 });
    await expect(writeGguf(join(dir, 'x.gguf'), windowed, fakeTokenizer(8))).rejects.toThrow(UnsupportedModel);
    const noVocab = { ...fakeTokenizer(8), sentencePieceVocab: () => null };
    await expect(writeGguf(join(dir, 'x.gguf'), randomModel({ vocabSize: 8 }), noVocab)).rejects.toThrow(UnsupportedModel);
    await expect(writeGguf(join(dir, 'x.gguf'), randomModel({ vocabSize: 8 }), fakeTokenizer(9))).rejects.toThrow(UnsupportedModel);
  });
});

describe('readGgufHeader', () => {
  let good: Uint8Array;
  beforeAll(async () => {
    const file = join(dir, 'good.gguf');
    await writeGguf(file, randomModel({ vocabSize: 8, numLayers: 1 }), fakeTokenizer(8));
    good = await readFile(file);
  });
  const tryBytes = async (bytes: Uint8Array) => {
    const file = join(dir, 'bad.gguf');
    await writeFile(file, bytes);
    return readGgufHeader(file);
  };

  it('rejects a wrong magic, a bad version and a truncated file', async () => {
    await expect(tryBytes(Buffer.from('GGML0000000000000000000000000'))).rejects.toThrow(/magic/);
    const v9 = Uint8Array.from(good);
    new DataView(v9.buffer).setUint32(4, 9, true);
    await expect(tryBytes(v9)).rejects.toThrow(/version 9/);
    await expect(tryBytes(good.subarray(0, 200))).rejects.toThrow(InvalidModelFile);
    await expect(tryBytes(good.subarray(0, good.length - 4))).rejects.toThrow(/past the end/);
  });

  it('rejects absurd counts and lengths without allocating them', async () => {
    const huge = Uint8Array.from(good);
    new DataView(huge.buffer).setBigUint64(8, 2n ** 40n, true);
    await expect(tryBytes(huge)).rejects.toThrow(/tensor count/);
    const longKey = Uint8Array.from(good);
    new DataView(longKey.buffer).setBigUint64(24, 2n ** 50n, true);
    await expect(tryBytes(longKey)).rejects.toThrow(/string length/);
  });

  it('rejects a misaligned tensor offset', async () => {
    const h = await tryBytes(good);
    const bad = Uint8Array.from(good);
    // the last tensor info ends with its u64 offset, right before the padding to dataOffset
    const last = h.tensors[h.tensors.length - 1];
    const infoEnd = Buffer.from(bad).lastIndexOf(Buffer.from(last.name)) + last.name.length + 4 + 8 * last.dims.length + 4;
    new DataView(bad.buffer).setBigUint64(infoEnd, BigInt(last.offset + 4), true);
    await expect(tryBytes(bad)).rejects.toThrow(/not aligned/);
  });
});
