/**
 * @module The decoder graph of a LLaMA-family model, built from the in-memory model: embedding, RMSNorm
 * (fused with the residual add), rotary embedding, grouped-query attention with a KV cache, SwiGLU MLP,
 * final norm and LM head. Inputs and outputs are named the Hugging Face / transformers.js way.
 */
import type { LlamaModel } from '../../model/types.ts';
import { addAttention, addAttentionContext, addMlp, addResidualNorm, transposed } from './blocks.ts';
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

/**
 * Builds and serializes the decoder graph.
 * @example
 * const { model, data } = buildDecoderGraph(llama, { hiddenStates: true });
 */
export function buildDecoderGraph(model: LlamaModel, opts: DecoderGraphOptions = {}): SerializedModel {
  const cfg = model.config;
  const { hiddenSize: D, numKvHeads: Hkv, headDim: dh, vocabSize: V } = cfg;
  const L = model.layers.length;
  const g = new GraphBuilder('flatgate_decoder');

  const inputIds = g.input('input_ids', ElemType.INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', ElemType.INT64, ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', ElemType.INT64, ['batch_size', 'sequence_length']);
  const kvDims = ['batch_size', Hkv, 'past_sequence_length', dh];
  const past = Array.from({ length: L }, (_, l) => ({
    key: g.input(`past_key_values.${l}.key`, ElemType.FLOAT, kvDims),
    value: g.input(`past_key_values.${l}.value`, ElemType.FLOAT, kvDims),
  }));
  const keep = opts.logitsToKeepInput ? g.input('num_logits_to_keep', ElemType.INT64, [1]) : null;
  const ctx = addAttentionContext(g, attentionMask, positionIds, {
    maxPositions: cfg.maxPositions,
    headDim: dh,
    theta: cfg.ropeTheta,
    slidingWindow: cfg.slidingWindow,
  });

  let residual = g.node('Gather', [g.weight('model.embed_tokens.weight', [V, D], model.embed.data), inputIds], { attrs: { axis: 0 } });
  let pending: string | null = null; // the last sub-block output, not yet added to `residual`
  const hidden: string[] = [];
  let h: string;

  model.layers.forEach((layer, l) => {
    const p = `model.layers.${l}`;
    [h, residual] = addResidualNorm(g, residual, pending, g.weight(`${p}.input_layernorm.weight`, [D], layer.attnNorm), cfg.rmsNormEps);
    hidden.push(residual);
    pending = addAttention(g, p, layer, h, ctx, {
      pastKey: past[l].key,
      pastValue: past[l].value,
      presentKey: `present.${l}.key`,
      presentValue: `present.${l}.value`,
    }).out;
    [h, residual] = addResidualNorm(g, residual, pending, g.weight(`${p}.post_attention_layernorm.weight`, [D], layer.mlpNorm), cfg.rmsNormEps);
    pending = addMlp(g, p, layer, h).out;
  });

  let [normed, finalResidual] = addResidualNorm(g, residual, pending, g.weight('model.norm.weight', [D], model.norm), cfg.rmsNormEps);
  if (keep) {
    const start = g.node('Neg', [keep]);
    normed = g.node('Slice', [normed, start, g.int64('int64_max', [Number.MAX_SAFE_INTEGER]), g.int64('axis_seq', [1])]);
  }
  const logits = g.node('MatMul', [normed, g.weight('lm_head.weight', [D, V], () => transposed(model.lmHead ?? model.embed))]);
  g.output(logits, ElemType.FLOAT, ['batch_size', keep ? 'logits_length' : 'sequence_length', V], 'logits');
  const presentDims = ['batch_size', Hkv, 'total_sequence_length', dh];
  for (let l = 0; l < L; l++) {
    g.output(`present.${l}.key`, ElemType.FLOAT, presentDims);
    g.output(`present.${l}.value`, ElemType.FLOAT, presentDims);
  }
  if (opts.hiddenStates) {
    [...hidden, finalResidual].forEach((hs, l) => g.output(hs, ElemType.FLOAT, ['batch_size', 'sequence_length', D], `hidden_states.${l}`));
  }
  return g.serialize(opts.dataFile ?? 'model.onnx.data');
}
