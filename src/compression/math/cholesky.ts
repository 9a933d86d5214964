/**
 * @module Cholesky factorisation A = L L^T of a symmetric positive definite matrix (row-major
 * Float64Array), solves with it, and the diagonal of A^-1. Plain TypeScript for small and medium n;
 * O(n^3 / 3) flops.
 */
import { FlatgateError } from '../../errors.ts';

/** A matrix that was expected to be symmetric positive definite is not (a pivot <= 0 or not finite). */
export class NotPositiveDefinite extends FlatgateError {
  constructor(
    readonly pivot: number,
    readonly value: number,
  ) {
    super(`matrix is not positive definite: pivot ${pivot} is ${value}`, 'not_positive_definite', 'server_error');
  }
}

function sideOf(length: number, what: string): number {
  const n = Math.round(Math.sqrt(length));
  if (n * n !== length) throw new RangeError(`${what}: length ${length} is not a square`);
  return n;
}

/**
 * Lower Cholesky factor L of the n x n SPD matrix A (only A's lower triangle is read). Returns a new
 * array unless `inPlace`, in which case A is overwritten; L's strict upper triangle is zero.
 * @throws NotPositiveDefinite with the index of the first failing pivot.
 * @example cholesky(Float64Array.of(4, 2, 2, 5), 2) // [2, 0, 1, 2]
 */
export function cholesky(A: Float64Array, n: number, opts: { inPlace?: boolean } = {}): Float64Array {
  if (A.length !== n * n) throw new RangeError(`cholesky: A has ${A.length} entries, expected ${n}x${n}`);
  const L = opts.inPlace ? A : Float64Array.from(A);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    // L[i][j] = (A[i][j] - sum_{k<j} L[i][k] L[j][k]) / L[j][j]; rows i and j are contiguous.
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = L[ri + j];
      for (let k = 0; k < j; k++) s -= L[ri + k] * L[rj + k];
      if (j < i) {
        L[ri + j] = s / L[rj + j];
      } else {
        if (!(s > 0) || !Number.isFinite(s)) throw new NotPositiveDefinite(i, s);
        L[ri + i] = Math.sqrt(s);
      }
    }
    L.fill(0, ri + i + 1, ri + n);
  }
  return L;
}

/**
 * Solves A X = B given A's Cholesky factor L (n x n), for `nrhs` right-hand sides: B is n x nrhs
 * row-major. Returns X (n x nrhs, new array).
 * @example choleskySolve(cholesky(A, n), B, 1) // A^-1 b
 */
export function choleskySolve(L: Float64Array, B: ArrayLike<number>, nrhs: number): Float64Array {
  const n = sideOf(L.length, 'choleskySolve');
  if (B.length !== n * nrhs) throw new RangeError(`choleskySolve: B has ${B.length} entries, expected ${n}x${nrhs}`);
  const X = Float64Array.from(B);
  // Forward: L Y = B.
  for (let i = 0; i < n; i++) {
    const xi = i * nrhs;
    for (let k = 0; k < i; k++) {
      const l = L[i * n + k];
      if (l === 0) continue;
      const xk = k * nrhs;
      for (let r = 0; r < nrhs; r++) X[xi + r] -= l * X[xk + r];
    }
    const inv = 1 / L[i * n + i];
    for (let r = 0; r < nrhs; r++) X[xi + r] *= inv;
  }
  // Backward: L^T X = Y.
  for (let i = n - 1; i >= 0; i--) {
    const xi = i * nrhs;
    for (let k = i + 1; k < n; k++) {
      const l = L[k * n + i];
      if (l === 0) continue;
      const xk = k * nrhs;
      for (let r = 0; r < nrhs; r++) X[xi + r] -= l * X[xk + r];
    }
    const inv = 1 / L[i * n + i];
    for (let r = 0; r < nrhs; r++) X[xi + r] *= inv;
  }
  return X;
}

/**
 * diag(A^-1) from A's Cholesky factor L: (A^-1)_jj = ||L^-1 e_j||^2, since A^-1 = L^-T L^-1.
 * Solves L y = e_j column by column (n^3 / 6 flops in all) with one n-vector of scratch, so it needs
 * no second n x n matrix, and never forms A^-1.
 */
export function choleskyInverseDiagonal(L: Float64Array): Float64Array {
  const n = sideOf(L.length, 'choleskyInverseDiagonal');
  const diag = new Float64Array(n);
  const y = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    // forward substitution; y is zero above row j
    let ss = 0;
    for (let i = j; i < n; i++) {
      const row = i * n;
      let s = i === j ? 1 : 0;
      for (let k = j; k < i; k++) s -= L[row + k] * y[k];
      const v = s / L[row + i];
      y[i] = v;
      ss += v * v;
    }
    diag[j] = ss;
  }
  return diag;
}
