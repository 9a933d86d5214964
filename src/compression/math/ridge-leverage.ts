/**
 * @module Ridge leverage scores of MLP channels (MoDeGPT's Nyström selection, flattengpt.md section 3):
 * lambda = rho * trace(C) / D, s_i = [C (C + lambda I)^-1]_ii = 1 - lambda [(C + lambda I)^-1]_ii.
 */
import { InvalidRequest } from '../../errors.ts';
import { cholesky, choleskyInverseDiagonal } from './cholesky.ts';
import type { DenseLinearAlgebra } from './dense.ts';

/**
 * Ridge leverage scores of the D x D Gram matrix C (row-major float64, symmetric PSD) with relative
 * ridge `rho` > 0. Scores lie in [0, 1); their sum is the effective dimension trace(C (C + lambda I)^-1).
 * @throws InvalidRequest when rho <= 0 or trace(C) is not positive; NotPositiveDefinite if C + lambda I
 * is not positive definite (C not PSD). With `la`, the factorisation runs blocked on the engine (large d).
 * @example await ridgeLeverage(Float64Array.of(3, 0, 0, 1), 2, 0.5) // lambda 1, scores [0.75, 0.5]
 */
export async function ridgeLeverage(C: Float64Array, d: number, rho: number, la?: DenseLinearAlgebra): Promise<{ scores: Float64Array; lambda: number }> {
  if (C.length !== d * d) throw new RangeError(`ridgeLeverage: C has ${C.length} entries, expected ${d}x${d}`);
  if (!(rho > 0) || !Number.isFinite(rho)) throw new InvalidRequest(`ridge rho must be a positive number, got ${rho}`, 'rho');
  let trace = 0;
  for (let i = 0; i < d; i++) trace += C[i * d + i];
  if (!(trace > 0) || !Number.isFinite(trace)) {
    throw new InvalidRequest(`ridge leverage needs a Gram matrix with positive trace, got ${trace} (all activations zero?)`);
  }
  const lambda = (rho * trace) / d;
  const A = Float64Array.from(C);
  for (let i = 0; i < d; i++) A[i * d + i] += lambda;
  const inv = la ? await la.inverseDiagonal(await la.cholesky(A, d), d) : choleskyInverseDiagonal(cholesky(A, d, { inPlace: true }));
  const scores = inv.map((v) => 1 - lambda * v);
  return { scores, lambda };
}
