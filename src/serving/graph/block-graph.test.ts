import { describe, expect, it } from 'vitest';
import { randomModel } from '../../../test/fixtures/random-model.ts';
import { attention64, attentionHeads64, block64, mlpActivations64, rmsNorm64 } from '../../../test/reference/forward64.ts';
import { relErr } from '../../../test/reference/compare.ts';
import { createGraphSession } from '../session/local-backend.ts';
import { buildBlockGraph, buildGramGraph } from './block-graph.ts';

describe('block graph', () => {
  it('matches the float64 block, per-head outputs and MLP activations', async () => {
    const model = randomModel({ numHeads: 4, numKvHeads: 2, seed: 12 });
    const cfg = model.config;
    const layer = model.layers[1];
    const T = 7;
    const D = cfg.hiddenSize;
    const X = Array.from({ length: T }, (_, t) => Float64Array.from({ length: D }, (_, i) => Math.sin(t * 13 + i * 0.7)));
    const s = await createGraphSession(buildBlockGraph(layer, { ...cfg, maxPositions: cfg.maxPositions }), { threads: 1, provider: 'cpu' });
    const out = await s.run({
      hidden: { data: Float32Array.from(X.flatMap((r) => [...r])), dims: [1, T, D] },
      attention_mask: { data: new BigInt64Array(T).fill(1n), dims: [1, T] },
      position_ids: { data: BigInt64Array.from({ length: T }, (_, t) => BigInt(t)), dims: [1, T] },
    });
    const ref = block64(layer, cfg, X);
    expect(relErr(out.output.data as Float32Array, ref.flatMap((r) => [...r]))).toBeLessThan(1e-5);
    const U = X.map((x) => rmsNorm64(x, layer.attnNorm, cfg.rmsNormEps));
    const heads = attentionHeads64(layer, cfg, U);
    expect(relErr(out.head_outputs.data as Float32Array, heads.flatMap((r) => [...r]))).toBeLessThan(1e-5);
    const attnOut = attention64(layer, cfg, U);
    const Vn = X.map((x, t) => rmsNorm64(x.map((v, i) => v + attnOut[t][i]), layer.mlpNorm, cfg.rmsNormEps));
    const psi = mlpActivations64(layer, Vn);
    expect(out.mlp_activations.dims).toEqual([1, T, layer.gate.rows]);
    expect(relErr(out.mlp_activations.data as Float32Array, psi.flatMap((r) => [...r]))).toBeLessThan(1e-5);
    await s.release();
  });

  it('gram graph computes x^T x', async () => {
    const s = await createGraphSession(buildGramGraph(3), { threads: 1, provider: 'cpu' });
    const x = Float32Array.from([1, 2, 3, 4, 5, 6]); // 2 x 3
    const { gram } = await s.run({ x: { data: x, dims: [2, 3] } });
    expect([...(gram.data as Float32Array)]).toEqual([17, 22, 27, 22, 29, 36, 27, 36, 45]);
    await s.release();
  });
});
