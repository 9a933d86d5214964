/**
 * @module Folding RMSNorm gains into the projections that read the normed vector
 * (flattengpt.md section 2.1): W[:, c] *= a[c] for q, k, v (attnNorm) and gate, up (mlpNorm).
 */
import type { LayerWeights, Matrix } from '../../model/types.ts';

/** A copy of `m` ([out, in]) with column c multiplied by gain[c]. */
export function scaleColumns(m: Matrix, gain: ArrayLike<number>): Matrix {
  if (gain.length !== m.cols) throw new RangeError(`scaleColumns: gain has ${gain.length} entries, matrix has ${m.cols} columns`);
  const from = m.data;
  const data = new Float32Array(from.length);
  for (let r = 0; r < m.rows; r++) {
    const base = r * m.cols;
    for (let c = 0; c < m.cols; c++) data[base + c] = from[base + c] * gain[c];
  }
  return { rows: m.rows, cols: m.cols, data };
}

/**
 * The same block with both norm gains folded into its input projections and set to 1. The block
 * computes the same function (up to float32 rounding of the scaled weights). Input is not modified.
 * @example const folded = foldNorms(model.layers[3]);
 */
export function foldNorms(layer: LayerWeights): LayerWeights {
  const D = layer.attnNorm.length;
  return {
    ...layer,
    attnNorm: new Float32Array(D).fill(1),
    q: scaleColumns(layer.q, layer.attnNorm),
    k: scaleColumns(layer.k, layer.attnNorm),
    v: scaleColumns(layer.v, layer.attnNorm),
    mlpNorm: new Float32Array(layer.mlpNorm.length).fill(1),
    gate: scaleColumns(layer.gate, layer.mlpNorm),
    up: scaleColumns(layer.up, layer.mlpNorm),
  };
}
