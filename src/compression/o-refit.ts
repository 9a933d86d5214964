/**
 * @module The optional ridge refit of o_proj after head pruning (flattengpt.md section 3: "same closed
 * form as below, on Z"): the kept heads' rows of Wo take over what the removed heads wrote, with the
 * Gram matrix of the per-head outputs Z in place of the MLP activations.
 */
import type { DenseLinearAlgebra } from './math/dense.ts';
import { ridgeCompensation } from './math/ridge-compensation.ts';
import { complementOf } from './math/topk.ts';
import type { LayerWeights } from '../model/types.ts';

/** The head-output dimensions (columns of HF's o_proj) of the query heads of KV groups `keptKvGroups`, in pruneHeads' order. */
export function keptHeadDims(keptKvGroups: readonly number[], groupSize: number, headDim: number): number[] {
  return keptKvGroups.flatMap((g) => Array.from({ length: groupSize * headDim }, (_, i) => g * groupSize * headDim + i));
}

/**
 * o_proj of the head-pruned block refitted on the wide block's head outputs: W' = Wo[K] + (C_KK + lambda I)^-1 C_KR Wo[R]
 * (rows of Wo = head-output dimensions), lambda = rho * trace(C) / d. `pruned` is pruneHeads' result
 * for the same kept groups; its o is replaced. `la`: blocked kernels for large head widths.
 */
export async function refitO(
  wide: LayerWeights, pruned: LayerWeights, C: Float64Array, keep: readonly number[], rho: number, la?: DenseLinearAlgebra,
): Promise<{ layer: LayerWeights; lambda: number }> {
  const { rows: D, cols: d } = wide.o;
  let trace = 0;
  for (let i = 0; i < d; i++) trace += C[i * d + i];
  const lambda = (rho * trace) / d;
  const woByDim = new Float64Array(d * D);
  const wo = wide.o.data;
  for (let o = 0; o < D; o++) for (let c = 0; c < d; c++) woByDim[c * D + o] = wo[o * d + c];
  const rows = await ridgeCompensation(C, d, keep, complementOf(keep, d), lambda, woByDim, D, la);
  const k = keep.length;
  const data = new Float32Array(D * k);
  for (let r = 0; r < k; r++) for (let o = 0; o < D; o++) data[o * k + r] = rows[r * D + o];
  return { layer: { ...pruned, o: { rows: D, cols: k, data } }, lambda };
}
