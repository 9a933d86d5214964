/**
 * @module The decoder graph of a LLaMA-family model, built from the in-memory model: embedding, RMSNorm
 * (fused with the residual add), rotary embedding, grouped-query attention with a KV cache, SwiGLU MLP,
 * final norm and LM head. Inputs and outputs are named the Hugging Face / transformers.js way.
 */
import type { LlamaModel, Matrix } from '../../model/types.ts';
import { ElemType, GraphBuilder, type SerializedModel } from './builder.ts';

/** Options of the exported decoder graph. */
export interface DecoderGraphOptions {
  /** Add outputs `hidden_states.{l}` (the input of block l, [batch, seq, D]) and `hidden_states.{L}` (final residual). */
  hiddenStates?: boolean;
  /**
   * Add an int64 input `num_logits_to_keep` ([1]): only the last n positions get logits, which makes prefill
   * for generation cheap. Off for the standard export (transformers.js feeds only the standard inputs).
   */
  logitsToKeepInput?: boolean;
  /** Name of the external data file (default `model.onnx.data`). */
  dataFile?: string;
}

/** Transposes an HF `[out, in]` weight into the `[in, out]` layout MatMul wants. */
export function transposed(m: Matrix): Float32Array {
  const out = new Float32Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++) {
    const row = r * m.cols;
    for (let c = 0; c < m.cols; c++) out[c * m.rows + r] = m.data[row + c];
  }
  return out;
}

/** `[in, out]` weight of several `[out_i, in]` matrices side by side (fused projections). */
function fusedTransposed(ms: Matrix[]): { data: Float32Array; cols: number } {
  const rows = ms[0].cols;
  const cols = ms.reduce((s, m) => s + m.rows, 0);
  const out = new Float32Array(rows * cols);
  let c0 = 0;
  for (const m of ms) {
    for (let r = 0; r < m.rows; r++) {
      for (let k = 0; k < m.cols; k++) out[k * cols + c0 + r] = m.data[r * m.cols + k];
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
      const invFreq = 1 / Math.pow(theta, (2 * i) / headDim);
      const a = p * invFreq;
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/**
 * Builds and serializes the decoder graph.
 * @example
 * const { model, data } = buildDecoderGraph(llama, { hiddenStates: true });
 */
export function buildDecoderGraph(model: LlamaModel, opts: DecoderGraphOptions = {}): SerializedModel {
  const cfg = model.config;
  const { hiddenSize: D, numHeads: H, numKvHeads: Hkv, headDim: dh, vocabSize: V } = cfg;
  const L = model.layers.length;
  const g = new GraphBuilder('flatgate_decoder');
  const eps = { float: cfg.rmsNormEps };

  const inputIds = g.input('input_ids', ElemType.INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', ElemType.INT64, ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', ElemType.INT64, ['batch_size', 'sequence_length']);
  const past = Array.from({ length: L }, (_, l) => ({
    key: g.input(`past_key_values.${l}.key`, ElemType.FLOAT, ['batch_size', Hkv, 'past_sequence_length', dh]),
    value: g.input(`past_key_values.${l}.value`, ElemType.FLOAT, ['batch_size', Hkv, 'past_sequence_length', dh]),
  }));
  const keep = opts.logitsToKeepInput ? g.input('num_logits_to_keep', ElemType.INT64, [1]) : null;

  // GroupQueryAttention wants per-sequence (valid length - 1) as int32 and the total length as an int32 scalar.
  const one = g.int64('one', [1]);
  const maskSum = g.node('ReduceSum', [attentionMask, one], { attrs: { keepdims: 0 } });
  const seqlensK = g.node('Cast', [g.node('Sub', [maskSum, one])], { attrs: { to: ElemType.INT32 } });
  const maskShape = g.node('Shape', [attentionMask]);
  const totalLen = g.node('Cast', [g.node('Gather', [maskShape, g.int64('axis1', [1], [])], { attrs: { axis: 0 } })], {
    attrs: { to: ElemType.INT32 },
  });

  const rope = ropeTables(cfg.maxPositions, dh, cfg.ropeTheta);
  const cosCache = g.weight('rope_cos', [cfg.maxPositions, dh / 2], rope.cos);
  const sinCache = g.weight('rope_sin', [cfg.maxPositions, dh / 2], rope.sin);

  const embed = g.weight('model.embed_tokens.weight', [V, D], model.embed.data);
  let residual = g.node('Gather', [embed, inputIds], { attrs: { axis: 0 } });
  let pending: string | null = null; // the last sub-block output, not yet added to `residual`
  const hidden: string[] = [];

  /** RMSNorm of residual (+ pending), returning [normed, newResidual]. */
  const addNorm = (gain: Float32Array, name: string): [string, string] => {
    const w = g.weight(name, [D], gain);
    if (pending === null) return [g.node('SimplifiedLayerNormalization', [residual, w], { attrs: { axis: -1, epsilon: eps } }), residual];
    const [normed, , , sum] = g.nodeMulti('SkipSimplifiedLayerNormalization', [residual, pending, w], 4, {
      attrs: { epsilon: eps },
      domain: 'com.microsoft',
    });
    pending = null;
    return [normed, sum];
  };

  for (let l = 0; l < L; l++) {
    const layer = model.layers[l];
    const p = `model.layers.${l}`;
    const [h, res] = addNorm(layer.attnNorm, `${p}.input_layernorm.weight`);
    residual = res;
    hidden.push(residual);

    const qkv = fusedTransposed([layer.q, layer.k, layer.v]);
    let qkvOut = g.node('MatMul', [h, g.weight(`${p}.self_attn.qkv_proj.weight`, [D, qkv.cols], qkv.data)]);
    if (layer.qBias && layer.kBias && layer.vBias) {
      const bias = new Float32Array(qkv.cols);
      bias.set(layer.qBias, 0);
      bias.set(layer.kBias, layer.qBias.length);
      bias.set(layer.vBias, layer.qBias.length + layer.kBias.length);
      qkvOut = g.node('Add', [qkvOut, g.weight(`${p}.self_attn.qkv_proj.bias`, [qkv.cols], bias)]);
    }
    const [q, k, v] = g.nodeMulti('Split', [qkvOut, g.int64(`${p}.split_qkv`, [H * dh, Hkv * dh, Hkv * dh])], 3, {
      attrs: { axis: -1 },
    });
    const rot = (x: string, heads: number) =>
      g.node('RotaryEmbedding', [x, positionIds, cosCache, sinCache], {
        attrs: { interleaved: 0, num_heads: heads },
        domain: 'com.microsoft',
      });
    const attn = g.fresh(`${p}.attn`);
    g.node('GroupQueryAttention', [rot(q, H), rot(k, Hkv), v, past[l].key, past[l].value, seqlensK, totalLen], {
      outputs: [attn, `present.${l}.key`, `present.${l}.value`],
      attrs: { num_heads: H, kv_num_heads: Hkv, ...(cfg.slidingWindow ? { local_window_size: cfg.slidingWindow } : {}) },
      domain: 'com.microsoft',
    });
    pending = g.node('MatMul', [attn, g.weight(`${p}.self_attn.o_proj.weight`, [H * dh, D], transposed(layer.o))]);

    const [h2, res2] = addNorm(layer.mlpNorm, `${p}.post_attention_layernorm.weight`);
    residual = res2;
    const I = layer.gate.rows;
    const gu = fusedTransposed([layer.gate, layer.up]);
    const guOut = g.node('MatMul', [h2, g.weight(`${p}.mlp.gate_up_proj.weight`, [D, 2 * I], gu.data)]);
    const [gate, up] = g.nodeMulti('Split', [guOut, g.int64(`${p}.split_gu`, [I, I])], 2, { attrs: { axis: -1 } });
    const act = g.node('Mul', [g.node('Mul', [gate, g.node('Sigmoid', [gate])]), up]);
    pending = g.node('MatMul', [act, g.weight(`${p}.mlp.down_proj.weight`, [I, D], transposed(layer.down))]);
  }

  let [normed, finalResidual] = addNorm(model.norm, 'model.norm.weight');
  if (keep) {
    const neg = g.node('Neg', [keep]);
    normed = g.node('Slice', [normed, neg, g.int64('int64_max', [Number.MAX_SAFE_INTEGER]), g.int64('axis_seq', [1])]);
  }
  const head = g.weight('lm_head.weight', [D, V], transposed(model.lmHead ?? model.embed));
  const logits = g.node('MatMul', [normed, head]);
  g.output(logits, ElemType.FLOAT, ['batch_size', keep ? 'logits_length' : 'sequence_length', V], 'logits');
  for (let l = 0; l < L; l++) {
    g.output(`present.${l}.key`, ElemType.FLOAT, ['batch_size', Hkv, 'total_sequence_length', dh]);
    g.output(`present.${l}.value`, ElemType.FLOAT, ['batch_size', Hkv, 'total_sequence_length', dh]);
  }
  if (opts.hiddenStates) {
    hidden.push(finalResidual);
    hidden.forEach((hs, l) => g.output(hs, ElemType.FLOAT, ['batch_size', 'sequence_length', D], `hidden_states.${l}`));
  }
  return g.serialize(opts.dataFile ?? 'model.onnx.data');
}
