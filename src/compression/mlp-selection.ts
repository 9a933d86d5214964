/**
 * @module Choosing the MLP channels a pruned block keeps (flattengpt.md section 3): ridge leverage
 * scores of C = psi^T psi (or, as an ablation, a magnitude score), the top k, and the ridge
 * least-squares compensation of down_proj (or none, as an ablation).
 */
import type { LayerWeights } from '../model/types.ts';
import { downByChannel, pruneMlp } from './flatten/prune.ts';
import type { DenseLinearAlgebra } from './math/dense.ts';
import { ridgeCompensation } from './math/ridge-compensation.ts';
import { ridgeLeverage } from './math/ridge-leverage.ts';
import { complementOf, topK } from './math/topk.ts';

/** How channels are scored: ridge leverage (the method) or magnitude (ablation, ours). */
export type ChannelScoring = 'leverage' | 'magnitude';

/** Options of {@link selectChannels}. */
export interface ChannelSelectionOptions {
  /** Relative ridge: lambda = rho * trace(C) / D. */
  rho: number;
  scoring: ChannelScoring;
  /** Refit down_proj on the kept channels (default true). */
  compensate: boolean;
  /** Blocked kernels on the engine for the large factorisations (absent: plain loops). */
  la?: DenseLinearAlgebra;
}

/** The selection and the pruned block. */
export interface ChannelSelection {
  /** Kept channel indices, ascending. */
  keep: number[];
  scores: Float64Array;
  lambda: number;
  layer: LayerWeights;
}

/**
 * Magnitude score (ours): s_i = sqrt(C_ii) * ||down[:, i]||_2, the RMS size of channel i's
 * contribution to the residual stream up to a constant.
 */
export function magnitudeScores(C: Float64Array, layer: LayerWeights): Float64Array {
  const { rows: D, cols: I, data } = layer.down;
  const norms = new Float64Array(I);
  for (let o = 0; o < D; o++) for (let c = 0; c < I; c++) norms[c] += data[o * I + c] ** 2;
  return norms.map((n, i) => Math.sqrt(Math.max(0, C[i * I + i]) * n));
}

/**
 * Scores the channels of `layer` from its Gram matrix `C` (I x I, float64), keeps the best `k` and
 * prunes the block, refitting down_proj when asked:
 * Wd' = Wd[K,:] + (C_KK + lambda I)^-1 C_KR Wd[R,:].
 * @example await selectChannels(C, headPruned, 352, { rho: 1e-2, scoring: 'leverage', compensate: true })
 */
export async function selectChannels(C: Float64Array, layer: LayerWeights, k: number, opts: ChannelSelectionOptions): Promise<ChannelSelection> {
  const I = layer.gate.rows;
  const D = layer.down.rows;
  const lev = await ridgeLeverage(C, I, opts.rho, opts.la);
  const scores = opts.scoring === 'leverage' ? lev.scores : magnitudeScores(C, layer);
  const keep = topK(scores, k);
  const newDown = opts.compensate ? await ridgeCompensation(C, I, keep, complementOf(keep, I), lev.lambda, downByChannel(layer), D, opts.la) : undefined;
  return { keep, scores, lambda: lev.lambda, layer: pruneMlp(layer, keep, newDown) };
}
