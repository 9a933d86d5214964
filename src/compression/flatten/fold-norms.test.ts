import { describe, expect, it } from 'vitest';
import { block64 } from '../../../test/reference/forward64.ts';
import { relErrRows } from '../../../test/reference/compare.ts';
import { createRng } from '../../serving/generate/sampling.ts';
import { randomLayer, randomVector, testConfig } from '../../../test/fixtures/random-model.ts';
import { foldNorms, scaleColumns } from './fold-norms.ts';

describe('foldNorms', () => {
  it('scaleColumns multiplies column c by gain[c]', () => {
    const m = scaleColumns({ rows: 2, cols: 3, data: Float32Array.of(1, 2, 3, 4, 5, 6) }, [1, 0, -2]);
    expect(Array.from(m.data)).toEqual([1, 0, -6, 4, 0, -12]);
  });

  it('sets the gains to 1 without changing the block output', () => {
    for (const qkvBias of [false, true]) {
      const config = testConfig({ qkvBias });
      const rand = createRng(21);
      const layer = randomLayer(config, rand);
      const before = Float32Array.from(layer.q.data);
      const folded = foldNorms(layer);
      expect(Array.from(folded.attnNorm).every((x) => x === 1)).toBe(true);
      expect(Array.from(folded.mlpNorm).every((x) => x === 1)).toBe(true);
      expect(layer.q.data).toEqual(before);
      expect(folded.o).toBe(layer.o);
      expect(folded.down).toBe(layer.down);
      const X = Array.from({ length: 6 }, () => randomVector(config.hiddenSize, rand, -2, 2));
      expect(relErrRows(block64(folded, config, X), block64(layer, config, X))).toBeLessThan(1e-6);
    }
  });
});
