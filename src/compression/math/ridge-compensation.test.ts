import { afterAll, describe, expect, it } from 'vitest';
import { createRng } from '../../serving/generate/sampling.ts';
import { solve64 } from '../../../test/reference/solve64.ts';
import { DenseLinearAlgebra } from './dense.ts';
import { accumulateGram } from './gram.ts';
import { ridgeCompensation } from './ridge-compensation.ts';
import { complementOf } from './topk.ts';

/** The argmin of ||psi Wd - psi_K W||^2 + lambda ||W - Wd_K||^2 from its normal equations. */
function ridgeArgmin(psi: Float64Array, N: number, D: number, Wd: Float64Array, out: number, keep: number[], lambda: number) {
  const k = keep.length;
  const PK = Float64Array.from({ length: N * k }, (_, i) => psi[Math.floor(i / k) * D + keep[i % k]]);
  const Y = new Float64Array(N * out); // psi Wd
  for (let t = 0; t < N; t++)
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let c = 0; c < D; c++) s += psi[t * D + c] * Wd[c * out + o];
      Y[t * out + o] = s;
    }
  const M = new Float64Array(k * k);
  const B = new Float64Array(k * out);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let s = i === j ? lambda : 0;
      for (let t = 0; t < N; t++) s += PK[t * k + i] * PK[t * k + j];
      M[i * k + j] = s;
    }
    for (let o = 0; o < out; o++) {
      let s = lambda * Wd[keep[i] * out + o];
      for (let t = 0; t < N; t++) s += PK[t * k + i] * Y[t * out + o];
      B[i * out + o] = s;
    }
  }
  return solve64(M, B, k, out);
}

// the plain loops, and the blocked kernels on onnxruntime with blocks of 3 (so every step is blocked)
const blocked = await DenseLinearAlgebra.open({ threads: 1, provider: 'cpu', block: 3 });
afterAll(() => blocked.release());

describe.each([['plain loops', undefined], ['blocked on onnxruntime', blocked]])('ridgeCompensation (%s)', (_, la) => {
  const N = 40;
  const D = 10;
  const out = 6;
  const rand = createRng(6);
  // Correlated channels, so that compensation has something to do.
  const base = Float64Array.from({ length: N * 4 }, () => rand() - 0.5);
  const mix = Float64Array.from({ length: 4 * D }, () => rand() - 0.5);
  const psi = Float64Array.from({ length: N * D }, (_, i) => {
    const t = Math.floor(i / D);
    const c = i % D;
    let s = 0.05 * (rand() - 0.5);
    for (let b = 0; b < 4; b++) s += base[t * 4 + b] * mix[b * D + c];
    return s;
  });
  const C = new Float64Array(D * D);
  accumulateGram(C, psi, N, D);
  const Wd = Float64Array.from({ length: D * out }, () => rand() - 0.5);
  const keep = [7, 1, 4, 9, 2];
  const remove = complementOf(keep, D);

  it('with nothing removed returns Wd[K,:]', async () => {
    const all = [3, 0, 1, 2, 4, 5, 6, 7, 8, 9];
    const W = await ridgeCompensation(C, D, all, [], 0.3, Wd, out, la);
    all.forEach((c, r) => expect(Array.from(W.subarray(r * out, (r + 1) * out))).toEqual(Array.from(Wd.subarray(c * out, (c + 1) * out))));
  });

  it('equals the ridge least-squares argmin', async () => {
    for (const lambda of [1e-3, 0.5, 20]) {
      const W = await ridgeCompensation(C, D, keep, remove, lambda, Wd, out, la);
      const ref = ridgeArgmin(psi, N, D, Wd, out, keep, lambda);
      for (let i = 0; i < ref.length; i++) expect(W[i]).toBeCloseTo(ref[i], 9);
    }
  });

  it('tends to ordinary least squares as lambda -> 0 and reduces the reconstruction error', async () => {
    const ols = ridgeArgmin(psi, N, D, Wd, out, keep, 0);
    const W0 = await ridgeCompensation(C, D, keep, remove, 0, Wd, out, la);
    const Wt = await ridgeCompensation(C, D, keep, remove, 1e-9, Wd, out, la);
    for (let i = 0; i < ols.length; i++) {
      expect(W0[i]).toBeCloseTo(ols[i], 8);
      expect(Wt[i]).toBeCloseTo(ols[i], 6);
    }
    const err = (W: ArrayLike<number>) => {
      let e = 0;
      for (let t = 0; t < N; t++)
        for (let o = 0; o < out; o++) {
          let s = 0;
          for (let c = 0; c < D; c++) s += psi[t * D + c] * Wd[c * out + o];
          keep.forEach((c, r) => (s -= psi[t * D + c] * W[r * out + o]));
          e += s * s;
        }
      return e;
    };
    const plain = Float64Array.from({ length: keep.length * out }, (_, i) => Wd[keep[Math.floor(i / out)] * out + (i % out)]);
    expect(err(W0)).toBeLessThan(0.1 * err(plain));
  });
});
