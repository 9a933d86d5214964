import { afterAll, describe, expect, it } from 'vitest';
import { InvalidRequest } from '../../errors.ts';
import { createRng } from '../../serving/generate/sampling.ts';
import { solve64 } from '../../../test/reference/solve64.ts';
import { DenseLinearAlgebra } from './dense.ts';
import { accumulateGram } from './gram.ts';
import { ridgeLeverage } from './ridge-leverage.ts';

// the plain loops, and the blocked kernels on onnxruntime with blocks of 5 (D = 12: a ragged last block)
const blocked = await DenseLinearAlgebra.open({ threads: 1, provider: 'cpu', block: 5 });
afterAll(() => blocked.release());

describe.each([['plain loops', undefined], ['blocked on onnxruntime', blocked]])('ridgeLeverage (%s)', (_, la) => {
  it('diagonal C: s_i = c_i / (c_i + lambda)', async () => {
    const { scores, lambda } = await ridgeLeverage(Float64Array.of(3, 0, 0, 1), 2, 0.5, la);
    expect(lambda).toBe(1);
    expect(scores[0]).toBeCloseTo(0.75, 15);
    expect(scores[1]).toBeCloseTo(0.5, 15);
  });

  it('equals diag(C (C + lambda I)^-1) for a rank-deficient Gram matrix', async () => {
    const D = 12;
    const N = 8;
    const rand = createRng(5);
    const psi = Float64Array.from({ length: N * D }, () => rand() - 0.5);
    const C = new Float64Array(D * D);
    accumulateGram(C, psi, N, D);
    const rho = 0.05;
    const { scores, lambda } = await ridgeLeverage(C, D, rho, la);
    let trace = 0;
    for (let i = 0; i < D; i++) trace += C[i * D + i];
    expect(lambda).toBeCloseTo((rho * trace) / D, 15);
    const A = Float64Array.from(C);
    for (let i = 0; i < D; i++) A[i * D + i] += lambda;
    // (C + lambda I) X = C  =>  X = (C + lambda I)^-1 C, and diag(C (C+lI)^-1) = diag(X) by symmetry.
    const X = solve64(A, C, D, D);
    let sum = 0;
    for (let i = 0; i < D; i++) {
      expect(scores[i]).toBeCloseTo(X[i * D + i], 12);
      expect(scores[i]).toBeGreaterThan(0);
      expect(scores[i]).toBeLessThan(1);
      sum += scores[i];
    }
    expect(sum).toBeLessThan(N);
  });

  it('rejects a bad rho or an all-zero Gram matrix', async () => {
    await expect(ridgeLeverage(Float64Array.of(1), 1, 0, la)).rejects.toThrow(InvalidRequest);
    await expect(ridgeLeverage(Float64Array.of(1), 1, NaN, la)).rejects.toThrow(InvalidRequest);
    await expect(ridgeLeverage(new Float64Array(4), 2, 0.1, la)).rejects.toThrow(InvalidRequest);
  });
});

