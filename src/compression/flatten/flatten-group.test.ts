import { describe, expect, it } from 'vitest';
import type { LayerWeights, ModelConfig } from '../../model/types.ts';
import { attention64, block64, mlp64, rmsNorm64 } from '../../../test/reference/forward64.ts';
import { relErrRows } from '../../../test/reference/compare.ts';
import { createRng } from '../../serving/generate/sampling.ts';
import { randomLayer, randomVector, testConfig } from '../../../test/fixtures/random-model.ts';
import { concatColumns, flattenGroup, stackRows } from './flatten-group.ts';
import { foldNorms } from './fold-norms.ts';

/** The members run in parallel on the same input, each with its own (unfolded) norms, in float64. */
function parallelBlocks(layers: LayerWeights[], config: ModelConfig, X: ArrayLike<number>[]): Float64Array[] {
  const eps = config.rmsNormEps;
  const Hp = X.map((x) => Float64Array.from(x));
  for (const l of layers) {
    const a = attention64(l, config, X.map((x) => rmsNorm64(x, l.attnNorm, eps)));
    Hp.forEach((h, t) => h.forEach((_, i) => (h[i] += a[t][i])));
  }
  const out = Hp.map((h) => Float64Array.from(h));
  for (const l of layers) {
    const m = mlp64(l, Hp.map((h) => rmsNorm64(h, l.mlpNorm, eps)));
    out.forEach((o, t) => o.forEach((_, i) => (o[i] += m[t][i])));
  }
  return out;
}

describe('flattenGroup', () => {
  it('stackRows / concatColumns', () => {
    const a = { rows: 1, cols: 2, data: Float32Array.of(1, 2) };
    const b = { rows: 1, cols: 2, data: Float32Array.of(3, 4) };
    expect(Array.from(stackRows([a, b]).data)).toEqual([1, 2, 3, 4]);
    const c = concatColumns([{ rows: 2, cols: 1, data: Float32Array.of(1, 2) }, { rows: 2, cols: 2, data: Float32Array.of(3, 4, 5, 6) }]);
    expect(c).toEqual({ rows: 2, cols: 3, data: Float32Array.of(1, 3, 4, 2, 5, 6) });
  });

  for (const [m, qkvBias] of [[2, false], [3, true]] as const) {
    it(`a group of ${m} is the members run in parallel on the same input (qkvBias ${qkvBias})`, () => {
      const config = testConfig({ qkvBias });
      const rand = createRng(30 + m);
      const layers = Array.from({ length: m }, () => randomLayer(config, rand));
      const flat = flattenGroup(layers, config);
      expect(flat.heads).toBe(m * config.numHeads);
      expect(flat.kvHeads).toBe(m * config.numKvHeads);
      expect(flat.intermediate).toBe(m * config.intermediateSize);
      expect(flat.layer.o.cols).toBe(m * config.numHeads * config.headDim);
      expect(flat.layer.down.cols).toBe(m * config.intermediateSize);
      expect(flat.layer.qBias?.length).toBe(qkvBias ? flat.layer.q.rows : undefined);
      const wide = { ...config, numHeads: flat.heads, numKvHeads: flat.kvHeads, intermediateSize: flat.intermediate };
      const X = Array.from({ length: 7 }, () => randomVector(config.hiddenSize, rand, -2, 2));
      const got = block64(flat.layer, wide, X);
      const expected = parallelBlocks(layers, config, X);
      expect(relErrRows(got, expected)).toBeLessThan(1e-6);
      // ...and is not the serial composition
      const serial = block64(layers[1], config, block64(layers[0], config, X));
      if (m === 2) expect(relErrRows(got, serial)).toBeGreaterThan(1e-3);
    });
  }

  it('a group of one is the folded block', () => {
    const config = testConfig();
    const layer = randomLayer(config, createRng(40));
    expect(flattenGroup([layer], config).layer).toEqual(foldNorms(layer));
  });

  it('rejects inconsistent members', () => {
    const config = testConfig();
    const a = randomLayer(config, createRng(41));
    const b = randomLayer(testConfig({ numKvHeads: 4 }), createRng(42));
    expect(() => flattenGroup([a, b], config)).toThrow(RangeError);
    expect(() => flattenGroup([], config)).toThrow(RangeError);
  });
});
