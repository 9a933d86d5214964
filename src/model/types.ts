/**
 * @module The in-memory model every layer of flatgate works on: a LLaMA-family decoder (Llama, Mistral,
 * Qwen2) with its weights in float32, in Hugging Face's layout and RoPE convention (rotate halves).
 * Readers convert into this form (llama2.c checkpoints get HF's q/k row permutation); writers and the
 * ONNX exporter read from it.
 */

/** Architectures flatgate can load, export and compress. */
export const ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/** Tensor element types found in checkpoints. Weights are held as float32 in memory. */
export type DType = 'F32' | 'F16' | 'BF16';

/** A dense row-major matrix. Linear weights use HF's `[out, in]` layout: `rows = out`, `cols = in`. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** Model hyper-parameters, named for what they are; `hf-config.ts` maps them to/from config.json. */
export interface ModelConfig {
  architecture: Architecture;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  /** Context length the model was trained for (max_position_embeddings). */
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  /** Qwen2-style biases on q, k and v projections. */
  qkvBias: boolean;
  /** Mistral sliding-window attention span, or null for full attention. */
  slidingWindow: number | null;
  bosTokenId: number;
  eosTokenId: number;
  /** dtype of the checkpoint the model was read from; writers keep it where they can. */
  dtype: DType;
}

/** Weights of one pre-norm transformer block (HF names in comments). */
export interface LayerWeights {
  /** input_layernorm.weight [D] */
  attnNorm: Float32Array;
  /** self_attn.q_proj.weight [H*dh, D] */
  q: Matrix;
  /** self_attn.k_proj.weight [Hkv*dh, D] */
  k: Matrix;
  /** self_attn.v_proj.weight [Hkv*dh, D] */
  v: Matrix;
  /** self_attn.o_proj.weight [D, H*dh] */
  o: Matrix;
  qBias?: Float32Array;
  kBias?: Float32Array;
  vBias?: Float32Array;
  /** post_attention_layernorm.weight [D] */
  mlpNorm: Float32Array;
  /** mlp.gate_proj.weight [I, D] */
  gate: Matrix;
  /** mlp.up_proj.weight [I, D] */
  up: Matrix;
  /** mlp.down_proj.weight [D, I] */
  down: Matrix;
}

/** A complete decoder. `lmHead` is null when the embeddings are tied. */
export interface LlamaModel {
  config: ModelConfig;
  /** model.embed_tokens.weight [V, D] */
  embed: Matrix;
  layers: LayerWeights[];
  /** model.norm.weight [D] */
  norm: Float32Array;
  /** lm_head.weight [V, D], or null if tied to `embed` */
  lmHead: Matrix | null;
}

/** A sentencepiece-style vocabulary (llama2.c tokenizer.bin, GGUF "llama" tokenizer). */
export interface SentencePieceVocab {
  /** Token strings with '▁' for spaces and `<0xNN>` for byte-fallback tokens. */
  pieces: string[];
  scores: number[];
  /** GGUF/sentencepiece token types: 1 normal, 2 unknown, 3 control, 6 byte. */
  types: number[];
}

/** What serving, scoring and compression need from a tokenizer. */
export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  /**
   * Token ids of `text`, sentencepiece style (dummy-prefix space, byte fallback).
   * @example tok.encode('Once upon', { bos: true }) // [1, ...]
   */
  encode(text: string, opts?: { bos?: boolean }): number[];
  /** Text of `ids` (special tokens skipped, the dummy-prefix space of the first piece removed). */
  decode(ids: readonly number[]): string;
  /** The HF tokenizer.json object equivalent to this tokenizer (for HF export). */
  toTokenizerJson(): unknown;
  /** The sentencepiece vocabulary, where the tokenizer has one (for GGUF export). */
  sentencePieceVocab(): SentencePieceVocab | null;
  /** The tokenizer_config.json it was loaded with (chat template etc.), where there was one. */
  tokenizerConfig?(): Record<string, unknown> | null;
}

/** A model with its tokenizer, as loaded from a path. */
export interface LoadedModel {
  model: LlamaModel;
  tokenizer: Tokenizer;
  /** The path it came from, for messages and reports. */
  source: string;
}

/** Number of parameters (embedding and head counted once each; tied head not counted twice). */
export function countParams(model: LlamaModel): number {
  const m = (x: Matrix) => x.rows * x.cols;
  let n = m(model.embed) + model.norm.length + (model.lmHead ? m(model.lmHead) : 0);
  for (const l of model.layers) {
    n += l.attnNorm.length + l.mlpNorm.length + m(l.q) + m(l.k) + m(l.v) + m(l.o) + m(l.gate) + m(l.up) + m(l.down);
    n += (l.qBias?.length ?? 0) + (l.kBias?.length ?? 0) + (l.vBias?.length ?? 0);
  }
  return n;
}

/** A zero-filled matrix. */
export function zeros(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float32Array(rows * cols) };
}
