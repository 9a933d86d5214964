/**
 * @module Reader of llama2.c "v0" checkpoints (a 7 x int32 header, then float32 weights) into the in-memory
 * model, in Hugging Face's layout and RoPE convention (q/k rows permuted from interleaved pairs to halves).
 */
import { open } from 'node:fs/promises';
import { InvalidModelFile } from '../errors.ts';
import type { LayerWeights, LlamaModel, Matrix, ModelConfig } from './types.ts';

/** The seven header fields of a llama2.c checkpoint, with `vocabSize` already made positive. */
export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** true when the classifier is the token embedding (a positive vocab_size in the file). */
  sharedWeights: boolean;
}

const HEADER_BYTES = 28;
const MAX_DIM = 1 << 16;
const MAX_HIDDEN = 1 << 20;
const MAX_LAYERS = 1024;
const MAX_VOCAB = 1 << 22;
const MAX_SEQ = 1 << 22;

/** Parses and validates the 28-byte header; `file` is only used in messages. */
export function parseLlama2cHeader(bytes: Uint8Array, file: string): Llama2cHeader {
  if (bytes.length < HEADER_BYTES) {
    throw new InvalidModelFile(file, `llama2.c checkpoint shorter than its ${HEADER_BYTES}-byte header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const f = Array.from({ length: 7 }, (_, i) => dv.getInt32(i * 4, true));
  const [dim, hiddenDim, numLayers, numHeads, numKvHeads, rawVocab, seqLen] = f;
  const bad = (what: string) => new InvalidModelFile(file, `bad llama2.c header [${f.join(', ')}]: ${what}`);
  const inRange = (v: number, max: number) => v > 0 && v <= max;
  if (!inRange(dim, MAX_DIM)) throw bad(`dim ${dim} not in 1..${MAX_DIM}`);
  if (!inRange(hiddenDim, MAX_HIDDEN)) throw bad(`hidden_dim ${hiddenDim} not in 1..${MAX_HIDDEN}`);
  if (!inRange(numLayers, MAX_LAYERS)) throw bad(`n_layers ${numLayers} not in 1..${MAX_LAYERS}`);
  if (!inRange(numHeads, dim)) throw bad(`n_heads ${numHeads} not in 1..dim`);
  if (!inRange(numKvHeads, numHeads)) throw bad(`n_kv_heads ${numKvHeads} not in 1..n_heads`);
  if (!inRange(Math.abs(rawVocab), MAX_VOCAB)) throw bad(`vocab_size ${rawVocab} not in 1..${MAX_VOCAB}`);
  if (!inRange(seqLen, MAX_SEQ)) throw bad(`seq_len ${seqLen} not in 1..${MAX_SEQ}`);
  if (dim % numHeads !== 0) throw bad('n_heads does not divide dim');
  if (numHeads % numKvHeads !== 0) throw bad('n_kv_heads does not divide n_heads');
  if ((dim / numHeads) % 2 !== 0) throw bad('head size is odd (RoPE rotates pairs)');
  return { dim, hiddenDim, numLayers, numHeads, numKvHeads, vocabSize: Math.abs(rawVocab), seqLen, sharedWeights: rawVocab > 0 };
}

/** Size in bytes a checkpoint with this header must have. */
export function llama2cFileSize(h: Llama2cHeader): number {
  const headSize = h.dim / h.numHeads;
  const kvDim = headSize * h.numKvHeads;
  const perLayer = 2 * h.dim + 2 * h.dim * h.dim + 2 * kvDim * h.dim + 3 * h.dim * h.hiddenDim;
  const floats =
    h.vocabSize * h.dim * (h.sharedWeights ? 1 : 2) + h.numLayers * perLayer + h.dim + h.seqLen * headSize;
  return HEADER_BYTES + 4 * floats;
}

/**
 * Reorders the rows of a q or k projection `[nHeads*dh, D]` from llama2.c's interleaved RoPE pairs
 * (x[2i], x[2i+1]) to HF's halves (x[i], x[i+dh/2]); this is transformers' `permute` in
 * convert_llama_weights_to_hf: `w.view(n_heads, dh/2, 2, D).transpose(1, 2).reshape(n_heads*dh, D)`.
 */
export function permuteForHalfRope(m: Matrix, nHeads: number): Matrix {
  return permuteRows(m, nHeads, (half, i) => 2 * i + half, (half, i, dh) => half * (dh / 2) + i);
}

/** The inverse of {@link permuteForHalfRope}: HF halves back to interleaved pairs (as GGUF and llama2.c store them). */
export function permuteForInterleavedRope(m: Matrix, nHeads: number): Matrix {
  return permuteRows(m, nHeads, (half, i, dh) => half * (dh / 2) + i, (half, i) => 2 * i + half);
}

function permuteRows(
  m: Matrix,
  nHeads: number,
  src: (half: number, i: number, dh: number) => number,
  dst: (half: number, i: number, dh: number) => number,
): Matrix {
  const dh = m.rows / nHeads;
  if (!Number.isInteger(dh) || dh % 2 !== 0) {
    throw new RangeError(`cannot split ${m.rows} rows into ${nHeads} heads of even size`);
  }
  const out = new Float32Array(m.data.length);
  for (let h = 0; h < nHeads; h++) {
    for (let half = 0; half < 2; half++) {
      for (let i = 0; i < dh / 2; i++) {
        const from = (h * dh + src(half, i, dh)) * m.cols;
        const to = (h * dh + dst(half, i, dh)) * m.cols;
        out.set(m.data.subarray(from, from + m.cols), to);
      }
    }
  }
  return { rows: m.rows, cols: m.cols, data: out };
}

/** The checks of {@link readLlama2c} that need no weights: the header and the exact file size. */
export async function checkLlama2c(file: string): Promise<Llama2cHeader> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (cause) {
    throw new InvalidModelFile(file, `cannot open: ${(cause as Error).message}`, { cause });
  }
  try {
    const head = new Uint8Array(HEADER_BYTES);
    const { bytesRead } = await fh.read(head, 0, HEADER_BYTES, 0);
    const h = parseLlama2cHeader(head.subarray(0, bytesRead), file);
    const size = (await fh.stat()).size;
    const expected = llama2cFileSize(h);
    if (size !== expected) throw new InvalidModelFile(file, `${size < expected ? 'truncated' : 'too long'}: header implies ${expected} bytes, file has ${size}`);
    return h;
  } finally {
    await fh.close();
  }
}

/**
 * Reads a llama2.c v0 checkpoint (karpathy/llama2.c run.c layout). A negative vocab_size in the header
 * means an untied classifier follows the weights. Throws `InvalidModelFile` on an implausible header or a
 * file whose size differs from what the header implies.
 * @example const model = await readLlama2c('fixtures/models/stories260K/stories260K.bin');
 */
export async function readLlama2c(file: string): Promise<LlamaModel> {
  const h = await checkLlama2c(file);
  const fh = await open(file, 'r');
  try {
    let pos = HEADER_BYTES;
    const take = async (n: number): Promise<Float32Array> => {
      const out = new Float32Array(n);
      const bytes = new Uint8Array(out.buffer);
      for (let done = 0; done < bytes.length; ) {
        const { bytesRead } = await fh.read(bytes, done, Math.min(bytes.length - done, 1 << 30), pos);
        if (bytesRead === 0) throw new InvalidModelFile(file, `unexpected end of file at byte ${pos}`);
        done += bytesRead;
        pos += bytesRead;
      }
      return out;
    };
    const stacked = async (rows: number, cols: number): Promise<Matrix[]> => {
      const out: Matrix[] = [];
      for (let l = 0; l < h.numLayers; l++) out.push({ rows, cols, data: await take(rows * cols) });
      return out;
    };
    return await assemble(h, take, stacked);
  } finally {
    await fh.close();
  }
}

async function assemble(
  h: Llama2cHeader,
  take: (n: number) => Promise<Float32Array>,
  stacked: (rows: number, cols: number) => Promise<Matrix[]>,
): Promise<LlamaModel> {
  const { dim: D, hiddenDim: I, numHeads: H, numKvHeads: KV } = h;
  const headDim = D / H;
  const kvDim = headDim * KV;
  const embed: Matrix = { rows: h.vocabSize, cols: D, data: await take(h.vocabSize * D) };
  const rmsAtt = await stacked(1, D);
  const wq = await stacked(D, D);
  const wk = await stacked(kvDim, D);
  const wv = await stacked(kvDim, D);
  const wo = await stacked(D, D);
  const rmsFfn = await stacked(1, D);
  const w1 = await stacked(I, D);
  const w2 = await stacked(D, I);
  const w3 = await stacked(I, D);
  const norm = await take(D);
  await take(h.seqLen * headDim); // freq_cis_real and freq_cis_imag, unused
  const lmHead: Matrix | null = h.sharedWeights ? null : { rows: h.vocabSize, cols: D, data: await take(h.vocabSize * D) };
  const layers: LayerWeights[] = wq.map((q, l) => ({
    attnNorm: rmsAtt[l].data,
    q: permuteForHalfRope(q, H),
    k: permuteForHalfRope(wk[l], KV),
    v: wv[l],
    o: wo[l],
    mlpNorm: rmsFfn[l].data,
    gate: w1[l],
    up: w3[l],
    down: w2[l],
  }));
  const config: ModelConfig = {
    architecture: 'LlamaForCausalLM',
    hiddenSize: D,
    intermediateSize: I,
    numLayers: h.numLayers,
    numHeads: H,
    numKvHeads: KV,
    headDim,
    vocabSize: h.vocabSize,
    maxPositions: h.seqLen,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: h.sharedWeights,
    qkvBias: false,
    slidingWindow: null,
    bosTokenId: 1,
    eosTokenId: 2,
    dtype: 'F32',
  };
  return { config, embed, layers, norm, lmHead };
}
