import { describe, expect, it } from 'vitest';
import { randomModel } from '../../test/fixtures/random-model.ts';
import { attention64, attentionHeads64, block64, mlpActivations64, rmsNorm64, type BlockConfig } from '../../test/reference/forward64.ts';
import { relErr } from '../../test/reference/compare.ts';
import { solveRows64 } from '../../test/reference/solve64.ts';
import type { LayerWeights, LlamaModel } from '../model/types.ts';
import { countParams } from '../model/types.ts';
import { createRng } from '../serving/generate/sampling.ts';
import { buildCalibrationSet, type CalibrationSet } from './calibration.ts';
import { flattenGroup } from './flatten/flatten-group.ts';
import { flattenGpt } from './flattengpt.ts';
import { blockParams } from './tensor-ops.ts';

/** Token ids of a pseudo-text, and a calibration set over them. */
function calibFor(model: LlamaModel, samples: number, seq: number, seed = 0): CalibrationSet {
  const rand = createRng(99);
  const ids = Array.from({ length: 400 }, () => 3 + Math.floor(rand() * (model.config.vocabSize - 3)));
  return buildCalibrationSet(ids, model.config.bosTokenId, { samples, seq, seed });
}

const topIdx = (s: number[], k: number) => s.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k).map((x) => x[1]).sort((a, b) => a - b);

/**
 * FlattenGPT on one group, straight from flattengpt.md in float64: head scores from the reference
 * attention, psi from the reference MLP, leverage from an explicit inverse, and Wd' as the solution of
 * the ridge least-squares normal equations (psi_K^T psi_K + lambda I) W = psi_K^T psi Wd + lambda Wd_K.
 */
function referenceGroup(members: LayerWeights[], cfg: BlockConfig & { intermediateSize: number }, X: Float64Array[][], rho: number) {
  const { headDim: dh, numHeads: H, numKvHeads: Hkv, rmsNormEps: eps } = cfg;
  const m = members.length;
  const wide = flattenGroup(members, cfg).layer;
  const wcfg = { ...cfg, numHeads: m * H, numKvHeads: m * Hkv };
  const r = Array.from({ length: m * H * dh }, (_, c) => Math.hypot(...Array.from({ length: wide.o.rows }, (_, o) => wide.o.data[o * wide.o.cols + c])));
  const f = new Array(m * H).fill(0);
  let T = 0;
  for (const Xs of X) {
    const Z = attentionHeads64(wide, wcfg, Xs.map((x) => rmsNorm64(x, wide.attnNorm, eps)));
    for (const z of Z) for (let h = 0; h < m * H; h++) f[h] += Math.hypot(...Array.from({ length: dh }, (_, c) => z[h * dh + c] * r[h * dh + c]));
    T += Xs.length;
  }
  const rep = H / Hkv;
  const g = Array.from({ length: m * Hkv }, (_, i) => f.slice(i * rep, (i + 1) * rep).reduce((a, b) => a + b, 0) / T);
  const keptKv = topIdx(g, Hkv);
  const qRows = keptKv.flatMap((k) => Array.from({ length: rep * dh }, (_, j) => k * rep * dh + j));
  const kvRows = keptKv.flatMap((k) => Array.from({ length: dh }, (_, j) => k * dh + j));
  const pick = (mat: LayerWeights['q'], rows: number[]) => ({ rows: rows.length, cols: mat.cols, data: Float32Array.from(rows.flatMap((rr) => [...mat.data.subarray(rr * mat.cols, (rr + 1) * mat.cols)])) });
  const oCols = { rows: wide.o.rows, cols: qRows.length, data: Float32Array.from({ length: wide.o.rows * qRows.length }, (_, i) => wide.o.data[Math.floor(i / qRows.length) * wide.o.cols + qRows[i % qRows.length]]) };
  const headPruned: LayerWeights = { ...wide, q: pick(wide.q, qRows), k: pick(wide.k, kvRows), v: pick(wide.v, kvRows), o: oCols };
  const pcfg = { ...cfg };
  const psi: Float64Array[] = [];
  for (const Xs of X) {
    const a = attention64(headPruned, pcfg, Xs.map((x) => rmsNorm64(x, wide.attnNorm, eps)));
    const Hp = Xs.map((x, t) => x.map((v, i) => v + a[t][i]));
    psi.push(...mlpActivations64(headPruned, Hp.map((h) => rmsNorm64(h, wide.mlpNorm, eps))));
  }
  const D = m * cfg.intermediateSize;
  const C = Array.from({ length: D }, (_, i) => Array.from({ length: D }, (_, j) => psi.reduce((s, p) => s + p[i] * p[j], 0)));
  const lambda = (rho * C.reduce((s, row, i) => s + row[i], 0)) / D;
  const inv = solveRows64(C.map((row, i) => row.map((v, j) => v + (i === j ? lambda : 0))), C.map((_, i) => C.map((__, j) => (i === j ? 1 : 0))));
  const lev = inv.map((row, i) => 1 - lambda * row[i]);
  const keep = topIdx(lev, cfg.intermediateSize);
  const width = wide.down.rows;
  const Wd = Array.from({ length: D }, (_, c) => Array.from({ length: width }, (_, o) => wide.down.data[o * D + c]));
  const A = keep.map((i) => keep.map((j) => C[i][j] + (i === j ? lambda : 0)));
  const B = keep.map((i) => Array.from({ length: width }, (_, o) => C[i].reduce((s, cij, j) => s + cij * Wd[j][o], 0) + lambda * Wd[i][o]));
  return { keptKv, keep, lambda, down: solveRows64(A, B), headPruned };
}

describe('flattenGpt', () => {
  it('matches a float64 reference of every group, with the compressed prefix propagated', async () => {
    const model = randomModel({ numLayers: 6, seed: 11 });
    const calib = calibFor(model, 3, 12);
    const rho = 0.05;
    const r = await flattenGpt(model, calib, { merges: 2, rho, threads: 1, provider: 'cpu' });
    expect(r.standard).toBe(true);
    expect(r.model.layers.length).toBe(4);
    let X: Float64Array[][] = calib.samples.map((ids) => ids.map((id) => Float64Array.from(model.embed.data.subarray(id * 64, (id + 1) * 64))));
    let detail = 0;
    r.plan.groups.forEach(([a, b], gi) => {
      const out = r.model.layers[gi];
      if (b > a) {
        const ref = referenceGroup(model.layers.slice(a, b + 1), model.config, X, rho);
        const d = r.groups[detail++];
        expect(d.heads!.keptKvGroups).toEqual(ref.keptKv);
        expect(d.channels!.kept).toEqual(ref.keep);
        expect(d.channels!.lambda).toBeCloseTo(ref.lambda, 3);
        expect(Array.from(out.q.data)).toEqual(Array.from(ref.headPruned.q.data));
        expect(Array.from(out.o.data)).toEqual(Array.from(ref.headPruned.o.data));
        const down = Float64Array.from({ length: out.down.data.length }, (_, i) => ref.down[i % out.down.cols][Math.floor(i / out.down.cols)]);
        expect(relErr(out.down.data, down)).toBeLessThan(2e-3);
      } else {
        expect(out).toBe(model.layers[a]);
      }
      X = X.map((Xs) => block64(out, model.config, Xs));
    });
    expect(detail).toBe(r.groups.length);
    expect(countParams(r.model)).toBe(countParams(model) - 2 * blockParams(model.layers[0]));
  });

  it('keeping every head and channel reproduces the flattened block exactly', async () => {
    const model = randomModel({ numLayers: 4, seed: 5 });
    const calib = calibFor(model, 2, 10);
    const { numKvHeads, intermediateSize } = model.config;
    const r = await flattenGpt(model, calib, { merges: 1, threads: 1, provider: 'cpu', keepKvGroups: 2 * numKvHeads, keepChannels: 2 * intermediateSize });
    expect(r.standard).toBe(false);
    const [[a, b]] = r.plan.groups.filter(([x, y]) => y > x);
    const flat = flattenGroup(model.layers.slice(a, b + 1), model.config).layer;
    const got = r.model.layers[a];
    for (const k of ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const) expect(got[k]).toEqual(flat[k]);
  });

  it('prunes whole KV groups (GQA) consistently: the pruned block equals the wide block with the dropped parts zeroed', async () => {
    const model = randomModel({ numLayers: 4, numHeads: 6, numKvHeads: 2, headDim: 8, hiddenSize: 32, intermediateSize: 40, seed: 8 });
    const calib = calibFor(model, 2, 10);
    const r = await flattenGpt(model, calib, { merges: 1, threads: 1, provider: 'cpu', compensate: false });
    const g = r.groups[0];
    const cfg = model.config;
    expect(g.heads!.keptKvGroups.length).toBe(cfg.numKvHeads);
    expect(g.heads!.scores.length).toBe(2 * cfg.numHeads);
    const wide = flattenGroup(model.layers.slice(g.first, g.last + 1), cfg).layer;
    const rep = cfg.numHeads / cfg.numKvHeads;
    const zeroed: LayerWeights = { ...wide, o: { ...wide.o, data: Float32Array.from(wide.o.data) }, down: { ...wide.down, data: Float32Array.from(wide.down.data) } };
    for (let c = 0; c < wide.o.cols; c++) {
      if (g.heads!.keptKvGroups.includes(Math.floor(c / (rep * cfg.headDim)))) continue;
      for (let o = 0; o < wide.o.rows; o++) zeroed.o.data[o * wide.o.cols + c] = 0;
    }
    for (let c = 0; c < wide.down.cols; c++) {
      if (g.channels!.kept.includes(c)) continue;
      for (let o = 0; o < wide.down.rows; o++) zeroed.down.data[o * wide.down.cols + c] = 0;
    }
    const X = [0, 1, 2, 3, 4, 5].map((t) => Float64Array.from({ length: 32 }, (_, i) => Math.sin(t * 7 + i)));
    const want = block64(zeroed, { ...cfg, numHeads: 2 * cfg.numHeads, numKvHeads: 2 * cfg.numKvHeads }, X);
    const got = block64(r.model.layers[g.first], cfg, X);
    expect(relErr(got.flatMap((x) => [...x]), want.flatMap((x) => [...x]))).toBeLessThan(1e-6);
  });

  it('is deterministic for a fixed seed, in both activation modes', async () => {
    const model = randomModel({ numLayers: 5, seed: 3 });
    const calib = calibFor(model, 3, 12, 7);
    const a = await flattenGpt(model, calib, { merges: 2, threads: 1, provider: 'cpu', cacheActivations: true });
    const b = await flattenGpt(model, calibFor(model, 3, 12, 7), { merges: 2, threads: 1, provider: 'cpu', cacheActivations: false });
    expect(a.frontier).toBe('memory');
    expect(b.frontier).toBe('recompute');
    expect(b.plan).toEqual(a.plan);
    a.model.layers.forEach((l, i) => {
      for (const k of ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const) expect(relErr(b.model.layers[i][k].data, l[k].data)).toBeLessThan(1e-5);
    });
    const c = await flattenGpt(model, calibFor(model, 3, 12, 7), { merges: 2, threads: 1, provider: 'cpu', cacheActivations: true });
    c.model.layers.forEach((l, i) => expect(l.down.data).toEqual(a.model.layers[i].down.data));
  });
});
