/**
 * @module FlattenGPT's plan (flattengpt.md section 1): greedy grouping of adjacent blocks into
 * contiguous spans by the similarity of their inputs, and the number of merges for a target.
 */
import { InvalidRequest } from '../../errors.ts';

/** A contiguous span of layers [first, last], both inclusive. */
export type LayerGroup = [first: number, last: number];

/** One greedy round: the two adjacent groups merged and their score S[left[0]][right[1]]. */
export interface MergeStep {
  left: LayerGroup;
  right: LayerGroup;
  similarity: number;
}

/** The plan: groups covering layers 0..L-1 in order, and the merges that built them. */
export interface FlattenPlan {
  groups: LayerGroup[];
  merges: MergeStep[];
}

/** Guards on the greedy grouping. */
export interface PlanOptions {
  /** Never put layer 0 or layer L-1 in a group of more than one (default true). */
  excludeEnds?: boolean;
  /** Largest number of layers in one group (default unlimited). */
  maxGroupSize?: number;
  /** Stop with an InvalidRequest when the best remaining score falls below this (default none). */
  minSimilarity?: number;
}

/** How much to compress: a layer count after compression, or a ratio of parameters to remove. */
export type MergeTarget =
  | { layers: number }
  | { paramRatio: number; totalParams: number; paramsPerBlock: number };

/**
 * Greedy grouping: start from [l,l]; each round score every adjacent pair [a,b],[b+1,d] by S[a][d] and
 * merge the best one (ties: the lowest a), `nMerges` times. S is L x L, computed once.
 * @throws InvalidRequest when S is malformed, or fewer than `nMerges` merges are possible under the guards.
 * @example planFlatten(S, 2).groups // e.g. [[0,0],[1,2],[3,3],[4,6],[7,7]]
 */
export function planFlatten(S: readonly (readonly number[])[], nMerges: number, opts: PlanOptions = {}): FlattenPlan {
  const L = S.length;
  if (L === 0 || S.some((row) => row.length !== L || row.some((x) => !Number.isFinite(x)))) {
    throw new InvalidRequest(`similarity matrix must be a finite ${L}x${L} matrix`);
  }
  if (!Number.isInteger(nMerges) || nMerges < 0) throw new InvalidRequest(`nMerges must be a non-negative integer, got ${nMerges}`, 'nMerges');
  const excludeEnds = opts.excludeEnds ?? true;
  const maxGroupSize = opts.maxGroupSize ?? Infinity;
  if (!(maxGroupSize >= 2)) throw new InvalidRequest(`maxGroupSize must be at least 2, got ${maxGroupSize}`, 'maxGroupSize');
  const groups: LayerGroup[] = Array.from({ length: L }, (_, l) => [l, l]);
  const merges: MergeStep[] = [];
  for (let round = 0; round < nMerges; round++) {
    let best = -1;
    let bestScore = -Infinity;
    for (let g = 0; g + 1 < groups.length; g++) {
      const a = groups[g][0];
      const d = groups[g + 1][1];
      if (excludeEnds && (a === 0 || d === L - 1)) continue;
      if (d - a + 1 > maxGroupSize) continue;
      if (S[a][d] > bestScore) {
        bestScore = S[a][d];
        best = g;
      }
    }
    const done = `after ${round} of ${nMerges} merges of ${L} layers`;
    if (best < 0) {
      const guards = [excludeEnds ? 'first and last layers excluded' : '', Number.isFinite(maxGroupSize) ? `maxGroupSize ${maxGroupSize}` : '']
        .filter(Boolean).join(', ');
      throw new InvalidRequest(`no further merge is possible ${done}${guards ? ` (${guards})` : ''}; ask for fewer merges`, 'nMerges');
    }
    if (opts.minSimilarity !== undefined && bestScore < opts.minSimilarity) {
      throw new InvalidRequest(
        `planning stopped ${done}: the best remaining similarity ${bestScore.toFixed(4)} (layers ${groups[best][0]}..${groups[best + 1][1]}) is below minSimilarity ${opts.minSimilarity}`,
        'minSimilarity',
      );
    }
    const left = groups[best];
    const right = groups[best + 1];
    merges.push({ left: [...left], right: [...right], similarity: bestScore });
    groups.splice(best, 2, [left[0], right[1]]);
  }
  return { groups, merges };
}

/**
 * Number of merges for a target: L - layers, or round(paramRatio * totalParams / paramsPerBlock).
 * @throws InvalidRequest for a target outside 1..L layers or a ratio outside [0, 1).
 */
export function mergesForTarget(target: MergeTarget, numLayers: number): number {
  if ('layers' in target) {
    if (!Number.isInteger(target.layers) || target.layers < 1 || target.layers > numLayers) {
      throw new InvalidRequest(`target layer count must be an integer in 1..${numLayers}, got ${target.layers}`, 'layers');
    }
    return numLayers - target.layers;
  }
  const { paramRatio, totalParams, paramsPerBlock } = target;
  if (!(paramRatio >= 0 && paramRatio < 1)) throw new InvalidRequest(`paramRatio must be in [0, 1), got ${paramRatio}`, 'paramRatio');
  if (!(totalParams > 0 && paramsPerBlock > 0)) throw new InvalidRequest('parameter counts must be positive');
  const n = Math.round((paramRatio * totalParams) / paramsPerBlock);
  if (n >= numLayers) throw new InvalidRequest(`paramRatio ${paramRatio} would remove ${n} of ${numLayers} layers`, 'paramRatio');
  return n;
}

/** The parameter ratio a number of merges actually removes: nMerges * paramsPerBlock / totalParams. */
export function reachedParamRatio(nMerges: number, totalParams: number, paramsPerBlock: number): number {
  return (nMerges * paramsPerBlock) / totalParams;
}
