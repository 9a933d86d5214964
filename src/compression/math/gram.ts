/**
 * @module Gram matrix accumulation C += X^T X in float64 (the plain JS fallback; large products go
 * through onnxruntime elsewhere).
 */

const BLOCK_ROWS = 128;

/**
 * Adds X^T X to C, where X is n x d row-major (float32 or float64) and C is d x d row-major float64.
 * The whole of C (both triangles) is updated, so C stays symmetric if it was.
 * @example const C = new Float64Array(d * d); accumulateGram(C, psiBatch, tokens, d);
 */
export function accumulateGram(C: Float64Array, X: ArrayLike<number>, n: number, d: number): void {
  if (C.length !== d * d) throw new RangeError(`accumulateGram: C has ${C.length} entries, expected ${d}x${d}`);
  if (X.length !== n * d) throw new RangeError(`accumulateGram: X has ${X.length} entries, expected ${n}x${d}`);
  const T = new Float64Array(d * BLOCK_ROWS);
  for (let r0 = 0; r0 < n; r0 += BLOCK_ROWS) {
    const nb = Math.min(BLOCK_ROWS, n - r0);
    // Transposed block: T[i][r] = X[r0 + r][i], so each C[i][j] update is a contiguous dot product.
    for (let r = 0; r < nb; r++) {
      const xr = (r0 + r) * d;
      for (let i = 0; i < d; i++) T[i * nb + r] = X[xr + i];
    }
    for (let i = 0; i < d; i++) {
      const ti = i * nb;
      for (let j = i; j < d; j++) {
        const tj = j * nb;
        let s = 0;
        for (let r = 0; r < nb; r++) s += T[ti + r] * T[tj + r];
        C[i * d + j] += s;
        if (j !== i) C[j * d + i] += s;
      }
    }
  }
}
