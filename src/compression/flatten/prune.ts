/**
 * @module Structured pruning of a (flattened) block back to a smaller width (flattengpt.md section 3):
 * whole KV groups with their query heads, and MLP channels with an optional compensated down_proj.
 */
import type { LayerWeights, Matrix } from '../../model/types.ts';

function checkIndices(keep: readonly number[], n: number, what: string): void {
  const seen = new Set<number>();
  for (const i of keep) {
    if (!Number.isInteger(i) || i < 0 || i >= n || seen.has(i)) throw new RangeError(`${what}: bad or repeated index ${i} (of ${n})`);
    seen.add(i);
  }
}

/** Rows of m ([out, in]) in the order of `rows`. */
export function selectRows(m: Matrix, rows: readonly number[]): Matrix {
  const data = new Float32Array(rows.length * m.cols);
  rows.forEach((r, i) => data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols));
  return { rows: rows.length, cols: m.cols, data };
}

/** Columns of m ([out, in]) in the order of `cols`. */
export function selectColumns(m: Matrix, cols: readonly number[]): Matrix {
  const data = new Float32Array(m.rows * cols.length);
  const from = m.data;
  for (let r = 0; r < m.rows; r++) {
    const src = r * m.cols;
    const dst = r * cols.length;
    for (let i = 0; i < cols.length; i++) data[dst + i] = from[src + cols[i]];
  }
  return { rows: m.rows, cols: cols.length, data };
}

function selectEntries(v: Float32Array | undefined, idx: readonly number[]): Float32Array | undefined {
  return v && Float32Array.from(idx, (i) => v[i]);
}

/** Row indices of whole heads: for each head h, h*headDim .. h*headDim + headDim - 1. */
function headRows(heads: readonly number[], headDim: number): number[] {
  return heads.flatMap((h) => Array.from({ length: headDim }, (_, c) => h * headDim + c));
}

/**
 * Keeps whole KV groups with all their query heads: rows of k/v (and biases) of each kept group g, rows
 * of q (and bias) and columns of o of query heads g*groupSize .. (g+1)*groupSize - 1.
 * @param kvHeads number of KV groups in `layer` (m*Hkv for a flattened block).
 * @param groupSize query heads per KV group (numHeads / numKvHeads).
 * @param keepKvGroups kept group indices, in the order the pruned block should have them.
 * @example pruneHeads(wide, 64, 2 * 8, 4, topK(groupScores, 8))
 */
export function pruneHeads(
  layer: LayerWeights,
  headDim: number,
  kvHeads: number,
  groupSize: number,
  keepKvGroups: readonly number[],
): LayerWeights {
  if (layer.k.rows !== kvHeads * headDim || layer.q.rows !== kvHeads * groupSize * headDim) {
    throw new RangeError(`pruneHeads: q/k rows ${layer.q.rows}/${layer.k.rows} do not match ${kvHeads} groups of ${groupSize} heads of ${headDim}`);
  }
  checkIndices(keepKvGroups, kvHeads, 'pruneHeads');
  const kvRows = headRows(keepKvGroups, headDim);
  const qHeads = keepKvGroups.flatMap((g) => Array.from({ length: groupSize }, (_, j) => g * groupSize + j));
  const qRows = headRows(qHeads, headDim);
  const out: LayerWeights = {
    ...layer,
    q: selectRows(layer.q, qRows),
    k: selectRows(layer.k, kvRows),
    v: selectRows(layer.v, kvRows),
    o: selectColumns(layer.o, qRows),
  };
  if (layer.qBias) out.qBias = selectEntries(layer.qBias, qRows);
  if (layer.kBias) out.kBias = selectEntries(layer.kBias, kvRows);
  if (layer.vBias) out.vBias = selectEntries(layer.vBias, kvRows);
  return out;
}

/**
 * Keeps MLP channels `keep`: rows of gate/up and columns of down. With `newDown` (|keep| x D,
 * channel-major: newDown[r * D + o] is the weight from channel keep[r] to output o, as
 * ridgeCompensation returns it) down_proj is replaced by its transpose instead.
 * @example pruneMlp(wide, keep, ridgeCompensation(C, m * I, keep, rest, lambda, WdT, D))
 */
export function pruneMlp(layer: LayerWeights, keep: readonly number[], newDown?: ArrayLike<number>): LayerWeights {
  checkIndices(keep, layer.gate.rows, 'pruneMlp');
  const D = layer.down.rows;
  let down: Matrix;
  if (newDown) {
    if (newDown.length !== keep.length * D) throw new RangeError(`pruneMlp: newDown has ${newDown.length} entries, expected ${keep.length}x${D}`);
    const data = new Float32Array(D * keep.length);
    for (let r = 0; r < keep.length; r++) for (let o = 0; o < D; o++) data[o * keep.length + r] = newDown[r * D + o];
    down = { rows: D, cols: keep.length, data };
  } else {
    down = selectColumns(layer.down, keep);
  }
  return { ...layer, gate: selectRows(layer.gate, keep), up: selectRows(layer.up, keep), down };
}

/** down_proj as channel-major rows (I x D, float64): the `Wd` that ridgeCompensation expects. */
export function downByChannel(layer: LayerWeights): Float64Array {
  const { rows: D, cols: I, data } = layer.down;
  const out = new Float64Array(I * D);
  for (let o = 0; o < D; o++) for (let c = 0; c < I; c++) out[c * D + o] = data[o * I + c];
  return out;
}
