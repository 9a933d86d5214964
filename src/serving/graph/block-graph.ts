/**
 * @module Graphs compression runs: one block on given hidden states (with its per-head outputs and MLP
 * activations as extra outputs), and the Gram product X^T X, so that the large products of calibration
 * run on onnxruntime (and on CUDA where present).
 */
import type { LayerWeights, Matrix } from '../../model/types.ts';
import { addAttention, addAttentionContext, addMlp, addResidualNorm, transposed } from './blocks.ts';
import { ElemType, GraphBuilder, type SerializedModel } from './builder.ts';

/** What a block graph needs beyond its weights (head counts come from the weights). */
export interface BlockGraphShape {
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositions: number;
  slidingWindow: number | null;
}

/**
 * One pre-norm block: inputs `hidden` [batch, seq, D], `attention_mask` [batch, seq] (ones) and
 * `position_ids` [batch, seq]; outputs `output` [batch, seq, D], `head_outputs` [batch, seq, H*dh]
 * (attention per head, before o_proj) and `mlp_activations` [batch, seq, I] (SiLU(gate) * up).
 * @example const s = await createGraphSession(buildBlockGraph(layer, shape));
 */
export function buildBlockGraph(layer: LayerWeights, shape: BlockGraphShape): SerializedModel {
  const g = new GraphBuilder('flatgate_block');
  const D = layer.q.cols;
  const dh = shape.headDim;
  const H = layer.q.rows / dh;
  const Hkv = layer.k.rows / dh;
  const I = layer.gate.rows;
  const hidden = g.input('hidden', ElemType.FLOAT, ['batch_size', 'sequence_length', D]);
  const mask = g.input('attention_mask', ElemType.INT64, ['batch_size', 'sequence_length']);
  const positions = g.input('position_ids', ElemType.INT64, ['batch_size', 'sequence_length']);
  const ctx = addAttentionContext(g, mask, positions, {
    maxPositions: shape.maxPositions,
    headDim: dh,
    theta: shape.ropeTheta,
    slidingWindow: shape.slidingWindow,
  });
  const emptyKv = g.weight('empty_kv', [1, Hkv, 0, dh], new Float32Array(0));
  // an empty past must match the batch: expand [1, Hkv, 0, dh] to [batch, Hkv, 0, dh]
  const batch = g.node('Slice', [g.node('Shape', [hidden]), g.int64('zero', [0]), g.int64('one_end', [1])]);
  const pastShape = g.node('Concat', [batch, g.int64('kv_rest', [Hkv, 0, dh])], { attrs: { axis: 0 } });
  const past = g.node('Expand', [emptyKv, pastShape]);
  const [h, res] = addResidualNorm(g, hidden, null, g.weight('attn_norm', [D], layer.attnNorm), shape.rmsNormEps);
  const attn = addAttention(g, 'block', layer, h, ctx, {
    pastKey: past,
    pastValue: past,
    presentKey: g.fresh('present_key'),
    presentValue: g.fresh('present_value'),
  });
  const [h2, res2] = addResidualNorm(g, res, attn.out, g.weight('mlp_norm', [D], layer.mlpNorm), shape.rmsNormEps);
  const mlp = addMlp(g, 'block', layer, h2);
  const out = g.node('Add', [res2, mlp.out]);
  g.output(out, ElemType.FLOAT, ['batch_size', 'sequence_length', D], 'output');
  g.output(attn.heads, ElemType.FLOAT, ['batch_size', 'sequence_length', H * dh], 'head_outputs');
  g.output(mlp.activations, ElemType.FLOAT, ['batch_size', 'sequence_length', I], 'mlp_activations');
  return g.serialize('block.onnx.data');
}

/**
 * The Gram matrix of a batch of rows: input `x` [n, d], output `gram` [d, d] = x^T x (float32; callers
 * accumulate batches in float64).
 */
export function buildGramGraph(d: number): SerializedModel {
  const g = new GraphBuilder('flatgate_gram');
  const x = g.input('x', ElemType.FLOAT, ['n', d]);
  const gram = g.node('MatMul', [g.node('Transpose', [x], { attrs: { perm: [1, 0] } }), x]);
  g.output(gram, ElemType.FLOAT, [d, d], 'gram');
  return g.serialize('gram.onnx.data');
}

/**
 * The model's head on final residuals: input `hidden` [n, D], output `logits` [n, V] = RMSNorm(hidden)
 * * norm times the LM head (`head` is HF's [V, D] layout).
 */
export function buildHeadGraph(norm: Float32Array, head: Matrix, eps: number): SerializedModel {
  const g = new GraphBuilder('flatgate_head');
  const D = head.cols;
  const x = g.input('hidden', ElemType.FLOAT, ['n', D]);
  const [normed] = addResidualNorm(g, x, null, g.weight('norm', [D], norm), eps);
  g.output(g.node('MatMul', [normed, g.weight('lm_head', [D, head.rows], transposed(head))]), ElemType.FLOAT, ['n', head.rows], 'logits');
  return g.serialize('head.onnx.data');
}
