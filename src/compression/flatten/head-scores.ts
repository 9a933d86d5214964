/**
 * @module Attention head importance (flattengpt.md section 3): f_i = mean_t || Z_{i,t} ⊙ r_i ||_2, where
 * r_i[c] is the L2 norm of row c of Wo_i (head i's dh rows of Wo in row-vector notation, i.e. its
 * dh columns of o_proj.weight in HF layout). A KV group scores the sum of its query heads.
 */
import type { Matrix } from '../../model/types.ts';

/** r_i[c] = || o[:, i*headDim + c] ||_2 for every head i: numHeads x headDim, head-major. */
export function outputRowNorms(o: Matrix, numHeads: number, headDim: number): Float64Array {
  if (o.cols !== numHeads * headDim) throw new RangeError(`outputRowNorms: o has ${o.cols} columns, expected ${numHeads}x${headDim}`);
  const r = new Float64Array(o.cols);
  const w = o.data;
  for (let row = 0; row < o.rows; row++) {
    const base = row * o.cols;
    for (let c = 0; c < o.cols; c++) r[c] += w[base + c] * w[base + c];
  }
  return r.map(Math.sqrt);
}

/** Sums consecutive runs of `groupSize` head scores: the score of each KV group. */
export function groupScores(headScores: ArrayLike<number>, groupSize: number): Float64Array {
  if (headScores.length % groupSize) throw new RangeError(`groupScores: ${headScores.length} heads is not a multiple of ${groupSize}`);
  const out = new Float64Array(headScores.length / groupSize);
  for (let h = 0; h < headScores.length; h++) out[Math.floor(h / groupSize)] += headScores[h];
  return out;
}

/**
 * Accumulates head scores over calibration batches.
 * @example
 * const acc = new HeadScoreAccumulator(wide.o, heads, dh);
 * for (const Z of batches) acc.add(Z, tokens);   // Z: tokens x heads x dh
 * const keep = topK(groupScores(acc.scores(), heads / kvHeads), Hkv);
 */
export class HeadScoreAccumulator {
  private readonly r: Float64Array;
  private readonly sums: Float64Array;
  private tokens = 0;

  constructor(
    o: Matrix,
    readonly numHeads: number,
    readonly headDim: number,
  ) {
    this.r = outputRowNorms(o, numHeads, headDim);
    this.sums = new Float64Array(numHeads);
  }

  /** Number of tokens added so far. */
  get count(): number {
    return this.tokens;
  }

  /** Adds per-head outputs Z for `tokens` tokens: tokens x numHeads x headDim, row-major. */
  add(Z: ArrayLike<number>, tokens: number): void {
    const w = this.numHeads * this.headDim;
    if (Z.length !== tokens * w) throw new RangeError(`HeadScoreAccumulator.add: Z has ${Z.length} entries, expected ${tokens}x${w}`);
    const dh = this.headDim;
    for (let t = 0; t < tokens; t++) {
      for (let h = 0; h < this.numHeads; h++) {
        const base = t * w + h * dh;
        let ss = 0;
        for (let c = 0; c < dh; c++) {
          const v = Z[base + c] * this.r[h * dh + c];
          ss += v * v;
        }
        this.sums[h] += Math.sqrt(ss);
      }
    }
    this.tokens += tokens;
  }

  /** f_i for every head (mean over the tokens added). */
  scores(): Float64Array {
    if (this.tokens === 0) throw new RangeError('HeadScoreAccumulator.scores: no tokens added');
    return this.sums.map((s) => s / this.tokens);
  }
}
