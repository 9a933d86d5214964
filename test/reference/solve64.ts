/**
 * @module A float64 reference linear solver for tests: Gauss-Jordan elimination with partial pivoting,
 * independent of src/compression/math.
 */

/**
 * Solves M X = B for X, with M n x n and B n x m, both row-major; the inputs are left unchanged.
 * @example solve64(Float64Array.of(2, 0, 0, 4), Float64Array.of(2, 8), 2, 1) // [1, 2]
 */
export function solve64(M: ArrayLike<number>, B: ArrayLike<number>, n: number, m: number): Float64Array {
  const A = Float64Array.from(M);
  const X = Float64Array.from(B);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(A[r * n + c]) > Math.abs(A[p * n + c])) p = r;
    for (let k = 0; k < n; k++) [A[c * n + k], A[p * n + k]] = [A[p * n + k], A[c * n + k]];
    for (let k = 0; k < m; k++) [X[c * m + k], X[p * m + k]] = [X[p * m + k], X[c * m + k]];
    const piv = A[c * n + c];
    for (let k = 0; k < n; k++) A[c * n + k] /= piv;
    for (let k = 0; k < m; k++) X[c * m + k] /= piv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = A[r * n + c];
      for (let k = 0; k < n; k++) A[r * n + k] -= f * A[c * n + k];
      for (let k = 0; k < m; k++) X[r * m + k] -= f * X[c * m + k];
    }
  }
  return X;
}

/** {@link solve64} on arrays of rows: A is n x n, B is n x m; returns X as n rows of m. */
export function solveRows64(A: readonly number[][], B: readonly number[][]): number[][] {
  const n = A.length;
  const m = B[0]?.length ?? 0;
  const X = solve64(A.flat(), B.flat(), n, m);
  return Array.from({ length: n }, (_, i) => Array.from(X.subarray(i * m, (i + 1) * m)));
}
