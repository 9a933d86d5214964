/**
 * @module A plain float64 LLaMA-family forward pass, used only by tests as the reference that the ONNX
 * graphs and the compression code are checked against. Hugging Face layout (`[out, in]` weights) and RoPE
 * convention (rotate halves, or interleaved pairs on request), GQA, q/k/v biases, tied or untied head,
 * Mistral sliding window. Slow and simple on purpose: no caching, no batching.
 */
import type { LayerWeights, LlamaModel, Matrix, ModelConfig } from '../../src/model/types.ts';

/** Options of the reference forward. */
export interface Forward64Options {
  /** Rotate interleaved pairs (2i, 2i+1) as llama2.c does, instead of HF's halves (i, i + dh/2). */
  ropeInterleaved?: boolean;
}

/** The block hyper-parameters the reference reads; a flattened block passes its own widths. */
export type BlockConfig = Pick<
  ModelConfig,
  'numHeads' | 'numKvHeads' | 'headDim' | 'rmsNormEps' | 'ropeTheta' | 'slidingWindow'
>;

/** y = W x for a `[out, in]` matrix, in float64. */
export function matVec64(w: Matrix, x: ArrayLike<number>, bias?: ArrayLike<number>): Float64Array {
  if (x.length !== w.cols) throw new RangeError(`matVec64: x has ${x.length} entries, W has ${w.cols} columns`);
  const y = new Float64Array(w.rows);
  const d = w.data;
  for (let o = 0; o < w.rows; o++) {
    let s = bias ? bias[o] : 0;
    const base = o * w.cols;
    for (let i = 0; i < w.cols; i++) s += d[base + i] * x[i];
    y[o] = s;
  }
  return y;
}

/** RMSNorm: x / sqrt(mean(x^2) + eps) * gain. */
export function rmsNorm64(x: ArrayLike<number>, gain: ArrayLike<number>, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const r = 1 / Math.sqrt(ss / x.length + eps);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] * r * gain[i];
  return y;
}

/** log softmax of one logits vector. */
export function logSoftmax64(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += Math.exp(logits[i] - max);
  const lse = max + Math.log(s);
  const y = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) y[i] = logits[i] - lse;
  return y;
}

/**
 * Rotates every head of `x` (numHeads * headDim entries, head-major) in place by position `pos`.
 * Pair j (frequency theta^(-2j/dh)) is (j, j + dh/2) in HF's convention, (2j, 2j+1) when interleaved:
 * (a, b) -> (a cos - b sin, b cos + a sin).
 */
export function rope64(x: Float64Array, headDim: number, pos: number, theta: number, interleaved = false): Float64Array {
  const half = headDim / 2;
  for (let h = 0; h < x.length / headDim; h++) {
    const base = h * headDim;
    for (let j = 0; j < half; j++) {
      const angle = pos * Math.pow(theta, (-2 * j) / headDim);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      const ia = interleaved ? base + 2 * j : base + j;
      const ib = interleaved ? ia + 1 : ia + half;
      const a = x[ia];
      const b = x[ib];
      x[ia] = a * c - b * s;
      x[ib] = b * c + a * s;
    }
  }
  return x;
}

/**
 * Per-head attention outputs Z before o_proj, for T already-normed rows `U` at positions 0..T-1:
 * returns z[t] with numHeads * headDim entries (head-major). Query head h reads KV group
 * floor(h / (numHeads / numKvHeads)), as HF's repeat_kv does.
 */
export function attentionHeads64(
  layer: LayerWeights,
  config: BlockConfig,
  U: ArrayLike<number>[],
  opts: Forward64Options = {},
): Float64Array[] {
  const { numHeads: H, numKvHeads: Hkv, headDim: dh } = config;
  if (layer.q.rows !== H * dh || layer.k.rows !== Hkv * dh || layer.v.rows !== Hkv * dh) {
    throw new RangeError(`attention64: q/k/v rows ${layer.q.rows}/${layer.k.rows}/${layer.v.rows} do not match ${H}/${Hkv} heads of ${dh}`);
  }
  const T = U.length;
  const rep = H / Hkv;
  const Q = U.map((u, t) => rope64(matVec64(layer.q, u, layer.qBias), dh, t, config.ropeTheta, opts.ropeInterleaved));
  const K = U.map((u, t) => rope64(matVec64(layer.k, u, layer.kBias), dh, t, config.ropeTheta, opts.ropeInterleaved));
  const V = U.map((u) => matVec64(layer.v, u, layer.vBias));
  const window = config.slidingWindow ?? Infinity;
  const scale = 1 / Math.sqrt(dh);
  const Z: Float64Array[] = [];
  for (let t = 0; t < T; t++) {
    const z = new Float64Array(H * dh);
    const first = Math.max(0, t - window + 1);
    const w = new Float64Array(t + 1);
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / rep);
      let max = -Infinity;
      for (let s = first; s <= t; s++) {
        let dot = 0;
        for (let c = 0; c < dh; c++) dot += Q[t][h * dh + c] * K[s][g * dh + c];
        w[s] = dot * scale;
        if (w[s] > max) max = w[s];
      }
      let sum = 0;
      for (let s = first; s <= t; s++) sum += (w[s] = Math.exp(w[s] - max));
      for (let s = first; s <= t; s++) {
        const p = w[s] / sum;
        for (let c = 0; c < dh; c++) z[h * dh + c] += p * V[s][g * dh + c];
      }
    }
    Z.push(z);
  }
  return Z;
}

/** Attention sub-layer output (after o_proj, without the residual) for already-normed rows `U`. */
export function attention64(
  layer: LayerWeights,
  config: BlockConfig,
  U: ArrayLike<number>[],
  opts: Forward64Options = {},
): Float64Array[] {
  return attentionHeads64(layer, config, U, opts).map((z) => matVec64(layer.o, z));
}

/** MLP channel activations psi = SiLU(v Wg^T) * (v Wu^T) for already-normed rows `V`: [T][I]. */
export function mlpActivations64(layer: LayerWeights, V: ArrayLike<number>[]): Float64Array[] {
  return V.map((v) => {
    const g = matVec64(layer.gate, v);
    const u = matVec64(layer.up, v);
    for (let i = 0; i < g.length; i++) g[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
    return g;
  });
}

/** MLP sub-layer output (after down_proj, without the residual) for already-normed rows `V`. */
export function mlp64(layer: LayerWeights, V: ArrayLike<number>[]): Float64Array[] {
  return mlpActivations64(layer, V).map((psi) => matVec64(layer.down, psi));
}

/** One pre-norm block over T rows at positions 0..T-1: H' = X + Attn(norm X); out = H' + MLP(norm H'). */
export function block64(
  layer: LayerWeights,
  config: BlockConfig,
  X: ArrayLike<number>[],
  opts: Forward64Options = {},
): Float64Array[] {
  const eps = config.rmsNormEps;
  const attn = attention64(layer, config, X.map((x) => rmsNorm64(x, layer.attnNorm, eps)), opts);
  const Hp = X.map((x, t) => Float64Array.from(x, (v, i) => v + attn[t][i]));
  const mlp = mlp64(layer, Hp.map((h) => rmsNorm64(h, layer.mlpNorm, eps)));
  return Hp.map((h, t) => h.map((v, i) => v + mlp[t][i]));
}

/**
 * Full forward of `ids` at positions 0..T-1.
 * @returns logits[t] ([V]) and hidden[l][t] = input of block l ([D]); hidden[L] is the final residual
 * stream before the final norm.
 * @example const { logits } = forward64(model, [1, 403, 407]); logSoftmax64(logits[2])
 */
export function forward64(
  model: LlamaModel,
  ids: number[],
  opts: Forward64Options = {},
): { logits: Float64Array[]; hidden: Float64Array[][] } {
  const { config } = model;
  const D = config.hiddenSize;
  let X: Float64Array[] = ids.map((id) => {
    if (!(id >= 0 && id < model.embed.rows)) throw new RangeError(`forward64: token id ${id} out of range`);
    return Float64Array.from(model.embed.data.subarray(id * D, (id + 1) * D));
  });
  const hidden: Float64Array[][] = [X];
  for (const layer of model.layers) {
    X = block64(layer, config, X, opts);
    hidden.push(X);
  }
  const head = model.lmHead ?? model.embed;
  const logits = X.map((x) => matVec64(head, rmsNorm64(x, model.norm, config.rmsNormEps)));
  return { logits, hidden };
}
