/**
 * @module ShortGPT baseline: Block Influence BI_l = 1 - mean_t cos(H^l_t, H^{l+1}_t), scored once on
 * the original model; the n blocks with the lowest BI are deleted.
 */
import type { LlamaModel } from '../model/types.ts';
import type { CalibrationSet } from './calibration.ts';
import { topK } from './math/topk.ts';
import type { ProgressListener } from './progress.ts';
import { collectSimilarity, type StatisticsOptions } from './statistics.ts';
import { withoutLayers } from './tensor-ops.ts';

/** Options of {@link shortGpt}. */
export interface ShortGptOptions extends Omit<StatisticsOptions, 'onBatch'> {
  /** Blocks to remove. */
  remove: number;
  /** A precomputed (L+1) x (L+1) similarity (index L: final residual) on the same calibration set. */
  similarity?: number[][];
  onProgress?: ProgressListener;
}

/** Result of {@link shortGpt}. */
export interface ShortGptResult {
  model: LlamaModel;
  /** Removed block indices, ascending. */
  removed: number[];
  /** BI of every block of the original model. */
  blockInfluence: number[];
  similarity: number[][];
}

/** BI_l = 1 - S[l][l+1] from an (L+1) x (L+1) similarity matrix. */
export function blockInfluence(S: readonly (readonly number[])[]): number[] {
  return Array.from({ length: S.length - 1 }, (_, l) => 1 - S[l][l + 1]);
}

/** The `n` blocks with the lowest BI (ties: the lower index), ascending. */
export function lowestInfluence(bi: readonly number[], n: number): number[] {
  return topK(bi.map((x) => -x), n);
}

/**
 * Removes the `remove` blocks of lowest Block Influence.
 * @example const { removed } = await shortGpt(model, calib, { remove: 2 });
 */
export async function shortGpt(model: LlamaModel, calib: CalibrationSet, opts: ShortGptOptions): Promise<ShortGptResult> {
  const similarity =
    opts.similarity ??
    (await collectSimilarity(model, calib, { ...opts, onBatch: (done, total) => opts.onProgress?.({ stage: 'block influence', done, total }) })).S;
  const bi = blockInfluence(similarity);
  const removed = lowestInfluence(bi, opts.remove);
  return { model: withoutLayers(model, removed), removed, blockInfluence: bi, similarity };
}
