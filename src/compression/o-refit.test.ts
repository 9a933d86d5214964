import { describe, expect, it } from 'vitest';
import { randomLayer, testConfig } from '../../test/fixtures/random-model.ts';
import { solve64 } from '../../test/reference/solve64.ts';
import { createRng } from '../serving/generate/sampling.ts';
import { pruneHeads } from './flatten/prune.ts';
import { keptHeadDims, refitO } from './o-refit.ts';

// 4 KV groups of 2 query heads of 4 dims: 32 head-output dimensions
const config = testConfig({ hiddenSize: 12, numHeads: 8, numKvHeads: 4, headDim: 4 });
const rand = createRng(5);
const wide = randomLayer(config, rand);
const d = 32;
const D = 12;
const N = 200;
const Z = Float64Array.from({ length: N * d }, () => rand() * 2 - 1);
const C = new Float64Array(d * d);
for (let t = 0; t < N; t++) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) C[i * d + j] += Z[t * d + i] * Z[t * d + j];

describe('o_proj refit', () => {
  it("names the kept head dimensions in pruneHeads' column order", () => {
    const kept = [0, 2];
    const pruned = pruneHeads(wide, 4, 4, 2, kept);
    const dims = keptHeadDims(kept, 2, 4);
    expect(dims).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
    for (let o = 0; o < D; o++) dims.forEach((c, r) => expect(pruned.o.data[o * dims.length + r]).toBe(wide.o.data[o * d + c]));
  });

  it('keeping every head leaves o_proj as it was', async () => {
    const all = [0, 1, 2, 3];
    const { layer } = await refitO(wide, pruneHeads(wide, 4, 4, 2, all), C, keptHeadDims(all, 2, 4), 1e-2);
    layer.o.data.forEach((x, i) => expect(x).toBeCloseTo(wide.o.data[i], 6));
  });

  it('is the ridge least-squares solution of Z Wo ~ Z_K W (normal equations solved independently)', async () => {
    const kept = [1, 3];
    const keep = keptHeadDims(kept, 2, 4);
    const rho = 0.05;
    const { layer, lambda } = await refitO(wide, pruneHeads(wide, 4, 4, 2, kept), C, keep, rho);
    let trace = 0;
    for (let i = 0; i < d; i++) trace += C[i * d + i];
    expect(lambda).toBeCloseTo((rho * trace) / d, 10);
    // minimise ||Z Wo - Z_K W||^2 + lambda ||W - Wo_K||^2:  (Z_K'Z_K + lambda I) W = Z_K' Z Wo + lambda Wo_K
    const k = keep.length;
    const wo = (c: number, o: number) => wide.o.data[o * d + c];
    const M = new Float64Array(k * k);
    const B = new Float64Array(k * D);
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) M[a * k + b] = C[keep[a] * d + keep[b]] + (a === b ? lambda : 0);
      for (let o = 0; o < D; o++) {
        let s = lambda * wo(keep[a], o);
        for (let c = 0; c < d; c++) s += C[keep[a] * d + c] * wo(c, o);
        B[a * D + o] = s;
      }
    }
    const W = solve64(M, B, k, D);
    for (let r = 0; r < k; r++) for (let o = 0; o < D; o++) expect(layer.o.data[o * k + r]).toBeCloseTo(W[r * D + o], 4);
  });
});
