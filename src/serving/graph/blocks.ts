/**
 * @module Graph pieces of one pre-norm LLaMA block, shared by the decoder graph and the single-block
 * graphs that compression runs: attention (fused QKV, RoPE, GroupQueryAttention) and the SwiGLU MLP.
 * Head counts come from the weights' shapes, so a flattened (m times wider) block builds the same way.
 */
import type { LayerWeights, Matrix } from '../../model/types.ts';
import { ElemType, type GraphBuilder } from './builder.ts';

/** Transposes an HF `[out, in]` weight into the `[in, out]` layout MatMul wants. */
export function transposed(m: Matrix): Float32Array {
  const out = new Float32Array(m.rows * m.cols);
  // `data` may be a getter (weights read on access): read it once, not per element
  const data = m.data;
  for (let r = 0; r < m.rows; r++) {
    const row = r * m.cols;
    for (let c = 0; c < m.cols; c++) out[c * m.rows + r] = data[row + c];
  }
  return out;
}

/** `[in, out]` weight of several `[out_i, in]` matrices side by side (fused projections). */
export function fusedTransposed(ms: Matrix[]): { data: Float32Array; cols: number } {
  const rows = ms[0].cols;
  const cols = ms.reduce((s, m) => s + m.rows, 0);
  const out = new Float32Array(rows * cols);
  let c0 = 0;
  for (const m of ms) {
    const data = m.data;
    for (let r = 0; r < m.rows; r++) {
      for (let k = 0; k < m.cols; k++) out[k * cols + c0 + r] = data[r * m.cols + k];
    }
    c0 += m.rows;
  }
  return { data: out, cols };
}

/** cos/sin tables [maxPositions, headDim/2] for RoPE with base `theta` (rotate-halves convention). */
export function ropeTables(maxPositions: number, headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(maxPositions * half);
  const sin = new Float32Array(maxPositions * half);
  for (let p = 0; p < maxPositions; p++) {
    for (let i = 0; i < half; i++) {
      const a = p / Math.pow(theta, (2 * i) / headDim);
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** Values every attention layer of a graph shares. */
export interface AttentionContext {
  positionIds: string;
  cosCache: string;
  sinCache: string;
  /** int32 [batch]: valid length - 1 per row, as GroupQueryAttention wants. */
  seqlensK: string;
  /** int32 scalar: total sequence length. */
  totalLen: string;
  headDim: number;
  slidingWindow: number | null;
}

/** Builds the shared attention values from `attention_mask` [batch, total] and `position_ids`. */
export function addAttentionContext(
  g: GraphBuilder,
  attentionMask: string,
  positionIds: string,
  rope: { maxPositions: number; headDim: number; theta: number; slidingWindow: number | null },
): AttentionContext {
  const one = g.int64('one', [1]);
  const maskSum = g.node('ReduceSum', [attentionMask, one], { attrs: { keepdims: 0 } });
  const seqlensK = g.node('Cast', [g.node('Sub', [maskSum, one])], { attrs: { to: ElemType.INT32 } });
  const total = g.node('Gather', [g.node('Shape', [attentionMask]), g.int64('axis1', [1], [])], { attrs: { axis: 0 } });
  const tables = ropeTables(rope.maxPositions, rope.headDim, rope.theta);
  return {
    positionIds,
    cosCache: g.weight('rope_cos', [rope.maxPositions, rope.headDim / 2], tables.cos),
    sinCache: g.weight('rope_sin', [rope.maxPositions, rope.headDim / 2], tables.sin),
    seqlensK,
    totalLen: g.node('Cast', [total], { attrs: { to: ElemType.INT32 } }),
    headDim: rope.headDim,
    slidingWindow: rope.slidingWindow,
  };
}

/**
 * Attention of `layer` on the normed input `h`. Returns the per-head outputs (before o_proj,
 * [batch, seq, heads*dh]) and the block's attention output ([batch, seq, D]).
 */
export function addAttention(
  g: GraphBuilder,
  prefix: string,
  layer: LayerWeights,
  h: string,
  ctx: AttentionContext,
  cache: { pastKey: string; pastValue: string; presentKey: string; presentValue: string },
): { heads: string; out: string } {
  const dh = ctx.headDim;
  const H = layer.q.rows / dh;
  const Hkv = layer.k.rows / dh;
  const D = layer.q.cols;
  const qkv = { cols: layer.q.rows + layer.k.rows + layer.v.rows };
  const qkvData = () => fusedTransposed([layer.q, layer.k, layer.v]).data;
  let qkvOut = g.node('MatMul', [h, g.weight(`${prefix}.self_attn.qkv_proj.weight`, [D, qkv.cols], qkvData)]);
  if (layer.qBias && layer.kBias && layer.vBias) {
    const bias = new Float32Array(qkv.cols);
    bias.set(layer.qBias, 0);
    bias.set(layer.kBias, layer.qBias.length);
    bias.set(layer.vBias, layer.qBias.length + layer.kBias.length);
    qkvOut = g.node('Add', [qkvOut, g.weight(`${prefix}.self_attn.qkv_proj.bias`, [qkv.cols], bias)]);
  }
  const [q, k, v] = g.nodeMulti('Split', [qkvOut, g.int64(`${prefix}.split_qkv`, [H * dh, Hkv * dh, Hkv * dh])], 3, {
    attrs: { axis: -1 },
  });
  const rot = (x: string, heads: number) =>
    g.node('RotaryEmbedding', [x, ctx.positionIds, ctx.cosCache, ctx.sinCache], {
      attrs: { interleaved: 0, num_heads: heads },
      domain: 'com.microsoft',
    });
  const heads = g.fresh(`${prefix}.attn`);
  g.node('GroupQueryAttention', [rot(q, H), rot(k, Hkv), v, cache.pastKey, cache.pastValue, ctx.seqlensK, ctx.totalLen], {
    outputs: [heads, cache.presentKey, cache.presentValue],
    attrs: { num_heads: H, kv_num_heads: Hkv, ...(ctx.slidingWindow ? { local_window_size: ctx.slidingWindow } : {}) },
    domain: 'com.microsoft',
  });
  const out = g.node('MatMul', [heads, g.weight(`${prefix}.self_attn.o_proj.weight`, [H * dh, D], () => transposed(layer.o))]);
  return { heads, out };
}

/** SwiGLU MLP of `layer` on the normed input `h`: the activations SiLU(gate)*up and the output. */
export function addMlp(g: GraphBuilder, prefix: string, layer: LayerWeights, h: string): { activations: string; out: string } {
  const I = layer.gate.rows;
  const D = layer.gate.cols;
  const guOut = g.node('MatMul', [h, g.weight(`${prefix}.mlp.gate_up_proj.weight`, [D, 2 * I], () => fusedTransposed([layer.gate, layer.up]).data)]);
  const [gate, up] = g.nodeMulti('Split', [guOut, g.int64(`${prefix}.split_gu`, [I, I])], 2, { attrs: { axis: -1 } });
  const activations = g.node('Mul', [g.node('Mul', [gate, g.node('Sigmoid', [gate])]), up]);
  const out = g.node('MatMul', [activations, g.weight(`${prefix}.mlp.down_proj.weight`, [I, D], () => transposed(layer.down))]);
  return { activations, out };
}

/** RMSNorm, fused with the pending residual add when there is one: returns [normed, residual]. */
export function addResidualNorm(g: GraphBuilder, residual: string, pending: string | null, gain: string, eps: number): [string, string] {
  if (pending === null) {
    return [g.node('SimplifiedLayerNormalization', [residual, gain], { attrs: { axis: -1, epsilon: { float: eps } } }), residual];
  }
  const [normed, , , sum] = g.nodeMulti('SkipSimplifiedLayerNormalization', [residual, pending, gain], 4, {
    attrs: { epsilon: { float: eps } },
    domain: 'com.microsoft',
  });
  return [normed, sum];
}
