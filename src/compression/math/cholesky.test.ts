import { describe, expect, it } from 'vitest';
import { FlatgateError } from '../../errors.ts';
import { createRng } from '../../serving/generate/sampling.ts';
import { inverse, randomSpd } from '../../../test/fixtures/matrices.ts';
import { cholesky, choleskyInverseDiagonal, choleskySolve, NotPositiveDefinite } from './cholesky.ts';

describe('cholesky', () => {
  it('matches a hand-computed factor', () => {
    const L = cholesky(Float64Array.of(4, 12, -16, 12, 37, -43, -16, -43, 98), 3);
    expect(Array.from(L)).toEqual([2, 0, 0, 6, 1, 0, -8, 5, 3]);
  });

  it('reconstructs A = L L^T, reads only the lower triangle, and works in place', () => {
    const n = 17;
    const A = randomSpd(n, 1);
    const junkUpper = Float64Array.from(A);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) junkUpper[i * n + j] = 1e9;
    const L = cholesky(junkUpper, n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += L[i * n + k] * L[j * n + k];
        expect(s).toBeCloseTo(A[i * n + j], 12);
        if (j > i) expect(L[i * n + j]).toBe(0);
      }
    const B = Float64Array.from(A);
    const L2 = cholesky(B, n, { inPlace: true });
    expect(L2).toBe(B);
    expect(Array.from(L2)).toEqual(Array.from(cholesky(A, n)));
  });

  it('throws NotPositiveDefinite with the failing pivot', () => {
    const A = Float64Array.of(1, 0, 0, 0, 1, 2, 0, 2, 1); // pivot 2: 1 - 4 < 0
    let err: unknown;
    try {
      cholesky(A, 3);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotPositiveDefinite);
    expect(err).toBeInstanceOf(FlatgateError);
    expect((err as NotPositiveDefinite).pivot).toBe(2);
    expect((err as NotPositiveDefinite).type).toBe('server_error');
    expect(() => cholesky(Float64Array.of(0), 1)).toThrow(NotPositiveDefinite);
    expect(() => cholesky(Float64Array.of(NaN), 1)).toThrow(NotPositiveDefinite);
  });
});

describe('choleskySolve / choleskyInverseDiagonal', () => {
  const n = 23;
  const A = randomSpd(n, 2);
  const L = cholesky(A, n);
  const Ainv = inverse(A, n);

  it('solves several right-hand sides at once', () => {
    const nrhs = 5;
    const rand = createRng(3);
    const B = Float64Array.from({ length: n * nrhs }, () => rand() - 0.5);
    const X = choleskySolve(L, B, nrhs);
    for (let i = 0; i < n; i++)
      for (let r = 0; r < nrhs; r++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += A[i * n + k] * X[k * nrhs + r];
        expect(s).toBeCloseTo(B[i * nrhs + r], 10);
        let ref = 0;
        for (let k = 0; k < n; k++) ref += Ainv[i * n + k] * B[k * nrhs + r];
        expect(X[i * nrhs + r]).toBeCloseTo(ref, 9);
      }
    expect(() => choleskySolve(L, B, 4)).toThrow(RangeError);
  });

  it('gives the diagonal of A^-1', () => {
    const d = choleskyInverseDiagonal(L);
    for (let i = 0; i < n; i++) expect(d[i] / Ainv[i * n + i]).toBeCloseTo(1, 11);
    expect(Array.from(choleskyInverseDiagonal(cholesky(Float64Array.of(4, 0, 0, 0.25), 2)))).toEqual([0.25, 4]);
  });
});
