import { describe, expect, it } from 'vitest';
import type { LayerWeights } from '../../model/types.ts';
import { attention64, attentionHeads64, block64, matVec64, mlpActivations64, rmsNorm64 } from '../../../test/reference/forward64.ts';
import { accumulateGram } from '../math/gram.ts';
import { ridgeCompensation } from '../math/ridge-compensation.ts';
import { ridgeLeverage } from '../math/ridge-leverage.ts';
import { complementOf, topK } from '../math/topk.ts';
import { flattenGroup } from './flatten-group.ts';
import { groupScores, HeadScoreAccumulator } from './head-scores.ts';
import { createRng } from '../../serving/generate/sampling.ts';
import { randomLayer, randomVector, testConfig } from '../../../test/fixtures/random-model.ts';
import { downByChannel, pruneHeads, pruneMlp } from './prune.ts';

const config = testConfig({ qkvBias: true, numHeads: 6, numKvHeads: 3, headDim: 4 });
const rand = createRng(50);
const layer = randomLayer(config, rand);
const X = Array.from({ length: 5 }, () => randomVector(config.hiddenSize, rand, -2, 2));
const base = block64(layer, config, X);
const groupSize = config.numHeads / config.numKvHeads;

function maxAbsDiff(a: Float64Array[], b: Float64Array[]): number {
  let m = 0;
  a.forEach((row, t) => row.forEach((x, i) => (m = Math.max(m, Math.abs(x - b[t][i])))));
  return m;
}

function withZeroedColumns(l: LayerWeights, which: 'o' | 'down', cols: number[]): LayerWeights {
  const m = l[which];
  const data = Float32Array.from(m.data);
  for (let r = 0; r < m.rows; r++) for (const c of cols) data[r * m.cols + c] = 0;
  return { ...l, [which]: { ...m, data } };
}

describe('pruneHeads', () => {
  it('keeping every group leaves the block unchanged (in any order)', () => {
    const all = pruneHeads(layer, 4, 3, groupSize, [0, 1, 2]);
    expect(all.q).toEqual(layer.q);
    expect(all.o).toEqual(layer.o);
    expect(all.kBias).toEqual(layer.kBias);
    expect(maxAbsDiff(block64(all, config, X), base)).toBe(0);
    const reversed = pruneHeads(layer, 4, 3, groupSize, [2, 0, 1]);
    expect(maxAbsDiff(block64(reversed, config, X), base)).toBeLessThan(1e-12);
  });

  it('dropping a group equals zeroing its query heads\' columns of o', () => {
    const pruned = pruneHeads(layer, 4, 3, groupSize, [0, 2]);
    expect([pruned.q.rows, pruned.k.rows, pruned.v.rows, pruned.o.cols, pruned.qBias!.length]).toEqual([16, 8, 8, 16, 16]);
    const small = { ...config, numHeads: 4, numKvHeads: 2 };
    const zeroed = withZeroedColumns(layer, 'o', [8, 9, 10, 11, 12, 13, 14, 15]);
    expect(maxAbsDiff(block64(pruned, small, X), block64(zeroed, config, X))).toBeLessThan(1e-12);
  });

  it('rejects bad indices and shapes', () => {
    expect(() => pruneHeads(layer, 4, 3, groupSize, [0, 0])).toThrow(RangeError);
    expect(() => pruneHeads(layer, 4, 3, groupSize, [3])).toThrow(RangeError);
    expect(() => pruneHeads(layer, 4, 2, groupSize, [0])).toThrow(RangeError);
  });
});

describe('pruneMlp', () => {
  const I = config.intermediateSize;
  const everything = Array.from({ length: I }, (_, i) => i);

  it('keeping every channel leaves the block unchanged', () => {
    expect(maxAbsDiff(block64(pruneMlp(layer, everything), config, X), base)).toBe(0);
    const viaNewDown = pruneMlp(layer, everything, downByChannel(layer));
    expect(viaNewDown.down).toEqual(layer.down);
  });

  it('dropping channels equals zeroing their down columns; newDown replaces down', () => {
    const keep = everything.filter((c) => c % 3 !== 1);
    const pruned = pruneMlp(layer, keep);
    expect([pruned.gate.rows, pruned.up.rows, pruned.down.cols]).toEqual([keep.length, keep.length, keep.length]);
    const zeroed = withZeroedColumns(layer, 'down', everything.filter((c) => c % 3 === 1));
    expect(maxAbsDiff(block64(pruned, config, X), block64(zeroed, config, X))).toBeLessThan(1e-12);
    const full = downByChannel(layer);
    const D = config.hiddenSize;
    const rows = Float64Array.from({ length: keep.length * D }, (_, i) => full[keep[Math.floor(i / D)] * D + (i % D)]);
    expect(pruneMlp(layer, keep, rows).down).toEqual(pruned.down);
    expect(() => pruneMlp(layer, keep, rows.subarray(1))).toThrow(RangeError);
  });
});

describe('flatten + prune end to end (kernels composed as the pipeline will)', () => {
  it('brings a flattened pair back to the original shapes; compensation beats plain top-k', async () => {
    const cfg = testConfig();
    const r = createRng(70);
    const members = [randomLayer(cfg, r), randomLayer(cfg, r)];
    const { layer: wide, heads, kvHeads, intermediate } = flattenGroup(members, cfg);
    const wideCfg = { ...cfg, numHeads: heads, numKvHeads: kvHeads };
    const Xc = Array.from({ length: 40 }, () => randomVector(cfg.hiddenSize, r, -2, 2));
    const U = Xc.map((x) => rmsNorm64(x, wide.attnNorm, cfg.rmsNormEps));
    const acc = new HeadScoreAccumulator(wide.o, heads, cfg.headDim);
    acc.add(Float64Array.from(attentionHeads64(wide, wideCfg, U).flatMap((z) => Array.from(z))), Xc.length);
    const keepGroups = topK(groupScores(acc.scores(), heads / kvHeads), cfg.numKvHeads);
    const attnPruned = pruneHeads(wide, cfg.headDim, kvHeads, heads / kvHeads, keepGroups);

    const a = attention64(attnPruned, cfg, U);
    const V = Xc.map((x, t) => rmsNorm64(x.map((v, i) => v + a[t][i]), wide.mlpNorm, cfg.rmsNormEps));
    const psi = mlpActivations64(attnPruned, V);
    const C = new Float64Array(intermediate * intermediate);
    accumulateGram(C, Float64Array.from(psi.flatMap((p) => Array.from(p))), psi.length, intermediate);
    const { scores, lambda } = await ridgeLeverage(C, intermediate, 0.01);
    const keep = topK(scores, cfg.intermediateSize);
    const comp = await ridgeCompensation(C, intermediate, keep, complementOf(keep, intermediate), lambda, downByChannel(attnPruned), cfg.hiddenSize);
    const final = pruneMlp(attnPruned, keep, comp);
    const plain = pruneMlp(attnPruned, keep);

    for (const key of ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const) {
      expect([final[key].rows, final[key].cols]).toEqual([members[0][key].rows, members[0][key].cols]);
    }
    const err = (l: LayerWeights) => {
      let e = 0;
      psi.forEach((p) => {
        const full = matVec64(attnPruned.down, p);
        const part = matVec64(l.down, Float64Array.from(keep, (c) => p[c]));
        full.forEach((x, i) => (e += (x - part[i]) ** 2));
      });
      return e;
    };
    expect(err(final)).toBeLessThan(err(plain));
  });
});
