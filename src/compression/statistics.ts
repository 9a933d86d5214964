/**
 * @module Calibration statistics, streamed through onnxruntime (block by block or batch by batch) and
 * accumulated in float64: the similarity of block inputs (and BI), per-head scores and the MLP Gram matrix of a
 * (flattened) block at the compression frontier, and the calibration NLL of a model.
 */
import { SimilarityAccumulator } from './math/cosine.ts';
import { HeadScoreAccumulator } from './flatten/head-scores.ts';
import type { LayerWeights, LlamaModel } from '../model/types.ts';
import { buildGramGraph } from '../serving/graph/block-graph.ts';
import type { SessionOptions } from '../serving/session/backend.ts';
import { createGraphSession } from '../serving/session/local-backend.ts';
import { createStreamedDecoder, streamLayers } from './layer-stream.ts';
import type { ActivationFrontier } from './activation-frontier.ts';
import { blockShape, createBlockSession } from './block-session.ts';
import { calibrationBatches, defaultBatchSize, type CalibrationSet } from './calibration.ts';
import { addInto, nextTokenNll } from './tensor-ops.ts';

/** Options shared by the collectors. */
export interface StatisticsOptions extends SessionOptions {
  /** Samples per batch (default: {@link defaultBatchSize} of the calibration length). */
  batchSize?: number;
  /** Called after each batch with (done, total) batches. */
  onBatch?: (done: number, total: number) => void;
}

/** Result of {@link collectSimilarity}. */
export interface SimilarityStats {
  /** (L+1) x (L+1) mean cosine of hidden states; index L is the final residual stream. */
  S: number[][];
  tokens: number;
  provider: 'cuda' | 'cpu';
}

/**
 * Mean cosine similarity between the inputs of every pair of blocks of the original `model`, plus
 * the final residual (so that 1 - S[l][l+1] is block l's Block Influence for every l). Streams the
 * calibration set block by block (one block in the engine at a time) and keeps every block input of
 * every sample (L+1 x samples x seq x D floats) until the end.
 */
export async function collectSimilarity(model: LlamaModel, calib: CalibrationSet, opts: StatisticsOptions = {}): Promise<SimilarityStats> {
  const L = model.layers.length;
  const D = model.config.hiddenSize;
  const acc = new SimilarityAccumulator(L + 1);
  const batches = calibrationBatches(calib, opts.batchSize ?? defaultBatchSize(calib.seq));
  const states: Float32Array[][] = batches.map(() => []);
  const { provider } = await streamLayers(model, batches, {
    ...opts,
    onLayer: (_, hidden) => hidden.forEach((h, i) => states[i].push(h)),
    onBlock: (done) => opts.onBatch?.(done, L + 1),
  });
  for (const [i, b] of batches.entries()) {
    acc.add(states[i], b.batch * b.seq, D);
    states[i] = [];
  }
  opts.onBatch?.(L + 1, L + 1);
  return { S: acc.matrix(), tokens: acc.count, provider };
}

/**
 * Head scores f_i (flattengpt.md section 3) over the frontier activations and, with `gram`, the Gram
 * matrix Z^T Z of the per-head outputs (H*dh x H*dh, float64) that the optional o_proj refit needs.
 */
export async function collectHeadStats(
  frontier: ActivationFrontier,
  model: LlamaModel,
  layer: LayerWeights,
  opts: StatisticsOptions & { gram?: boolean } = {},
): Promise<{ scores: Float64Array; C: Float64Array | null }> {
  const dh = model.config.headDim;
  const H = layer.q.rows / dh;
  const Dz = H * dh;
  const acc = new HeadScoreAccumulator(layer.o, H, dh);
  const C = opts.gram ? new Float64Array(Dz * Dz) : null;
  const block = await createBlockSession(layer, blockShape(model.config), opts);
  const gram = C ? await createGraphSession(buildGramGraph(Dz), opts) : null;
  try {
    let done = 0;
    await frontier.forEach(async (hidden, b) => {
      const { head_outputs } = await block.run(hidden, b.batch, b.seq, ['head_outputs']);
      const n = b.batch * b.seq;
      acc.add(head_outputs!, n);
      if (C && gram) addInto(C, (await gram.run({ x: { data: head_outputs!, dims: [n, Dz] } })).gram.data as Float32Array);
      opts.onBatch?.(++done, frontier.batchCount);
    });
  } finally {
    await block.release();
    await gram?.release();
  }
  return { scores: acc.scores(), C };
}

/** C = psi^T psi over the frontier activations, psi = SiLU(gate) * up of `layer` (I x I, float64). */
export async function collectMlpGram(
  frontier: ActivationFrontier,
  model: LlamaModel,
  layer: LayerWeights,
  opts: StatisticsOptions = {},
): Promise<{ C: Float64Array; tokens: number }> {
  const I = layer.gate.rows;
  const C = new Float64Array(I * I);
  const block = await createBlockSession(layer, blockShape(model.config), opts);
  const gram = await createGraphSession(buildGramGraph(I), opts);
  let tokens = 0;
  try {
    let done = 0;
    await frontier.forEach(async (hidden, b) => {
      const { mlp_activations } = await block.run(hidden, b.batch, b.seq, ['mlp_activations']);
      const n = b.batch * b.seq;
      const { gram: g } = await gram.run({ x: { data: mlp_activations!, dims: [n, I] } });
      addInto(C, g.data as Float32Array);
      tokens += n;
      opts.onBatch?.(++done, frontier.batchCount);
    });
  } finally {
    await block.release();
    await gram.release();
  }
  return { C, tokens };
}

/** Mean next-token NLL of `model` over the calibration set (BOS is never predicted). */
export async function calibrationNll(model: LlamaModel, calib: CalibrationSet, opts: StatisticsOptions = {}): Promise<{ nll: number; tokens: number }> {
  const batches = calibrationBatches(calib, opts.batchSize ?? defaultBatchSize(calib.seq));
  const decoder = await createStreamedDecoder(model, batches, opts);
  let sum = 0;
  let count = 0;
  try {
    for (const b of batches) {
      const step = await decoder.step(b.ids, b.batch, null);
      const r = nextTokenNll(step.logits, b.ids, b.batch, b.seq, model.config.vocabSize);
      sum += r.sum;
      count += r.count;
    }
  } finally {
    await decoder.release();
  }
  return { nll: sum / count, tokens: count };
}
