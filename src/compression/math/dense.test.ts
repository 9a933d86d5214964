import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inverse, randomSpd } from '../../../test/fixtures/matrices.ts';
import { createRng } from '../../serving/generate/sampling.ts';
import { NotPositiveDefinite } from './cholesky.ts';
import { DenseLinearAlgebra, lowerInverse } from './dense.ts';

/** Plain float64 product of row-major m x k and k x n matrices (the test's own arithmetic). */
function product(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let x = 0; x < k; x++) c[i * n + j] += a[i * k + x] * b[x * n + j];
  return c;
}

function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rel: number): void {
  expect(got.length).toBe(want.length);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(rel * scale);
}

const random = (n: number, seed: number) => {
  const rand = createRng(seed);
  return Float64Array.from({ length: n }, () => rand() - 0.5);
};

describe('DenseLinearAlgebra (blocked, on onnxruntime)', () => {
  // n is not a multiple of the block, so every algorithm meets a ragged last block
  const n = 53;
  let la: DenseLinearAlgebra;
  beforeAll(async () => {
    la = await DenseLinearAlgebra.open({ threads: 1, provider: 'cpu', block: 16 });
  });
  afterAll(() => la.release());

  it('multiplies in float64 with either operand transposed', async () => {
    const [m, k, c] = [7, 19, 5];
    const a = random(m * k, 1);
    const b = random(k * c, 2);
    const ref = product(a, b, m, k, c);
    expectClose(await la.gemm(a, b, m, k, c), ref, 1e-14);
    expectClose(await la.gemm(a, transpose(b, k, c), m, k, c, 'nt'), ref, 1e-14);
    expectClose(await la.gemm(transpose(a, m, k), b, m, k, c, 'tn'), ref, 1e-14);
    // views into a larger buffer are read at their offset
    const big = new Float64Array(10 + m * k);
    big.set(a, 10);
    expectClose(await la.gemm(big.subarray(10), b, m, k, c), ref, 1e-14);
  });

  it('inverts a lower-triangular matrix', () => {
    const A = randomSpd(9, 3);
    const L = Float64Array.from(A);
    for (let i = 0; i < 9; i++) for (let j = i + 1; j < 9; j++) L[i * 9 + j] = 0;
    const X = lowerInverse(L, 9);
    const I = product(L, X, 9, 9, 9);
    for (let i = 0; i < 9; i++) for (let j = 0; j < 9; j++) expect(I[i * 9 + j]).toBeCloseTo(i === j ? 1 : 0, 12);
  });

  it('factors A = L L^T in place, reading only the lower triangle', async () => {
    const A = randomSpd(n, 4);
    const work = Float64Array.from(A);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) work[i * n + j] = 1e9;
    const L = await la.cholesky(work, n);
    expect(L).toBe(work);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(L[i * n + j]).toBe(0);
    expectClose(product(L, transpose(L, n, n), n, n, n), A, 1e-12);
  });

  it('reports the failing pivot of a later block', async () => {
    const A = randomSpd(n, 5);
    // make the leading 41 x 41 minor singular-indefinite: row/column 40 a copy of row/column 3
    for (let i = 0; i < n; i++) {
      A[40 * n + i] = A[3 * n + i];
      A[i * n + 40] = A[i * n + 3];
    }
    A[40 * n + 40] = A[3 * n + 3] - 1e-3;
    const err = await la.cholesky(A, n).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotPositiveDefinite);
    expect((err as NotPositiveDefinite).pivot).toBe(40);
  });

  it('gives diag(A^-1) and solves A X = B against a Gauss-Jordan inverse', async () => {
    const A = randomSpd(n, 6);
    const Ainv = inverse(A, n);
    const L = await la.cholesky(Float64Array.from(A), n);
    const d = await la.inverseDiagonal(L, n);
    for (let i = 0; i < n; i++) expect(d[i] / Ainv[i * n + i]).toBeCloseTo(1, 10);
    const nrhs = 6;
    const B = random(n * nrhs, 7);
    const X = await la.solve(L, B, n, nrhs);
    expectClose(X, product(Ainv, B, n, n, nrhs), 1e-9);
    expectClose(product(A, X, n, n, nrhs), B, 1e-10);
  });

  it('takes the plain loops below one block, with the same answers', async () => {
    const small = await DenseLinearAlgebra.open({ threads: 1, provider: 'cpu', block: 64 });
    try {
      const A = randomSpd(n, 8);
      const Ainv = inverse(A, n);
      const L = await small.cholesky(Float64Array.from(A), n);
      const d = await small.inverseDiagonal(L, n);
      for (let i = 0; i < n; i++) expect(d[i] / Ainv[i * n + i]).toBeCloseTo(1, 10);
    } finally {
      await small.release();
    }
  });
});
