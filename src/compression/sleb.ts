/**
 * @module SLEB baseline: n rounds; each round measures the calibration NLL of the current model with
 * each remaining block removed (all but the first and the last) and removes the block whose removal
 * hurts least.
 */
import { InvalidRequest } from '../errors.ts';
import type { LlamaModel } from '../model/types.ts';
import type { CalibrationSet } from './calibration.ts';
import type { ProgressListener } from './progress.ts';
import { calibrationNll, type StatisticsOptions } from './statistics.ts';
import { withoutLayers } from './tensor-ops.ts';

/** Options of {@link sleb}. */
export interface SlebOptions extends Omit<StatisticsOptions, 'onBatch'> {
  /** Blocks to remove. */
  remove: number;
  onProgress?: ProgressListener;
}

/** One SLEB round: the NLL with each candidate (original index) removed, and the one removed. */
export interface SlebRound {
  candidates: { layer: number; nll: number }[];
  removed: number;
  /** Seconds the round took. */
  seconds: number;
}

/** Result of {@link sleb}. */
export interface SlebResult {
  model: LlamaModel;
  /** Removed original block indices, in removal order. */
  removed: number[];
  rounds: SlebRound[];
}

/**
 * Iterative block removal by calibration NLL.
 * @example const { removed } = await sleb(model, calib, { remove: 2 });
 */
export async function sleb(model: LlamaModel, calib: CalibrationSet, opts: SlebOptions): Promise<SlebResult> {
  if (!Number.isInteger(opts.remove) || opts.remove < 0 || opts.remove > model.layers.length - 2) {
    throw new InvalidRequest(`SLEB cannot remove ${opts.remove} of ${model.layers.length} blocks while keeping the first and last`, 'merges');
  }
  let current = model;
  let indices = model.layers.map((_, l) => l);
  const rounds: SlebRound[] = [];
  for (let round = 0; round < opts.remove; round++) {
    const n = indices.length;
    const t0 = performance.now();
    const candidates: { layer: number; nll: number }[] = [];
    let best = -1;
    for (let pos = 1; pos < n - 1; pos++) {
      opts.onProgress?.({ stage: `sleb round ${round + 1}`, layer: indices[pos], done: pos - 1, total: n - 2 });
      const { nll } = await calibrationNll(withoutLayers(current, [pos]), calib, opts);
      candidates.push({ layer: indices[pos], nll });
      if (best < 0 || nll < candidates[best - 1].nll) best = pos;
    }
    rounds.push({ candidates, removed: indices[best], seconds: (performance.now() - t0) / 1000 });
    current = withoutLayers(current, [best]);
    indices = indices.filter((_, i) => i !== best);
  }
  return { model: current, removed: rounds.map((r) => r.removed), rounds };
}
