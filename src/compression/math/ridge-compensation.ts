/**
 * @module Ridge compensation of a pruned down-projection (flattengpt.md section 3):
 * Wd' = Wd[K,:] + (C_KK + lambda I)^-1 C_KR Wd[R,:], the minimiser of
 * ||psi Wd - psi_K W'||^2 + lambda ||W' - Wd[K,:]||^2 with C = psi^T psi.
 */
import { cholesky, choleskySolve } from './cholesky.ts';
import type { DenseLinearAlgebra } from './dense.ts';

/**
 * Compensated down-projection rows for the kept channels.
 * @param C D x D Gram matrix of the channel activations (row-major float64).
 * @param d D, the number of channels.
 * @param keep kept channel indices K (any order; the result follows it).
 * @param remove removed channel indices R.
 * @param lambda ridge (>= 0; 0 is ordinary least squares and needs C_KK positive definite).
 * @param Wd down projection with rows indexed by channel: D x outDim row-major (Wd[channel][out]).
 * @param outDim columns of Wd (the model width).
 * @returns Wd', |K| x outDim row-major, row r for channel keep[r].
 * @param la blocked kernels on the engine, for large d (absent: plain loops).
 * @throws NotPositiveDefinite when C_KK + lambda I is not positive definite.
 * @example await ridgeCompensation(C, D, keep, complementOf(keep, D), lambda, WdT, hidden)
 */
export async function ridgeCompensation(
  C: Float64Array,
  d: number,
  keep: readonly number[],
  remove: readonly number[],
  lambda: number,
  Wd: ArrayLike<number>,
  outDim: number,
  la?: DenseLinearAlgebra,
): Promise<Float64Array> {
  if (C.length !== d * d) throw new RangeError(`ridgeCompensation: C has ${C.length} entries, expected ${d}x${d}`);
  if (Wd.length !== d * outDim) throw new RangeError(`ridgeCompensation: Wd has ${Wd.length} entries, expected ${d}x${outDim}`);
  const k = keep.length;
  const out = new Float64Array(k * outDim);
  for (let r = 0; r < k; r++) {
    const src = keep[r] * outDim;
    for (let c = 0; c < outDim; c++) out[r * outDim + c] = Wd[src + c];
  }
  if (remove.length === 0 || k === 0) return out;
  const A = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) A[i * k + j] = C[keep[i] * d + keep[j]];
    A[i * k + i] += lambda;
  }
  const B = la ? await la.gemm(rowsAndColumns(C, d, keep, remove), rowsOf(Wd, outDim, remove), k, remove.length, outDim) : plainProduct(C, d, keep, remove, Wd, outDim);
  const X = la ? await la.solve(await la.cholesky(A, k), B, k, outDim) : choleskySolve(cholesky(A, k, { inPlace: true }), B, outDim);
  for (let i = 0; i < out.length; i++) out[i] += X[i];
  return out;
}

/** C[keep, remove] as a dense |keep| x |remove| matrix. */
function rowsAndColumns(C: Float64Array, d: number, keep: readonly number[], remove: readonly number[]): Float64Array {
  const out = new Float64Array(keep.length * remove.length);
  for (let r = 0; r < keep.length; r++) {
    const row = keep[r] * d;
    for (let c = 0; c < remove.length; c++) out[r * remove.length + c] = C[row + remove[c]];
  }
  return out;
}

/** Rows `rows` of the row-major matrix `W` (`cols` columns). */
function rowsOf(W: ArrayLike<number>, cols: number, rows: readonly number[]): Float64Array {
  const out = new Float64Array(rows.length * cols);
  rows.forEach((r, i) => {
    for (let c = 0; c < cols; c++) out[i * cols + c] = W[r * cols + c];
  });
  return out;
}

/** B = C_KR Wd[R,:] (k x outDim) by plain loops, skipping zero couplings. */
function plainProduct(C: Float64Array, d: number, keep: readonly number[], remove: readonly number[], Wd: ArrayLike<number>, outDim: number): Float64Array {
  const B = new Float64Array(keep.length * outDim);
  for (let i = 0; i < keep.length; i++) {
    const ci = keep[i] * d;
    const bi = i * outDim;
    for (const r of remove) {
      const c = C[ci + r];
      if (c === 0) continue;
      const wr = r * outDim;
      for (let o = 0; o < outDim; o++) B[bi + o] += c * Wd[wr + o];
    }
  }
  return B;
}
