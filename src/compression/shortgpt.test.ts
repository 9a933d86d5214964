import { describe, expect, it } from 'vitest';
import { randomModel } from '../../test/fixtures/random-model.ts';
import { forward64 } from '../../test/reference/forward64.ts';
import { buildCalibrationSet } from './calibration.ts';
import { blockInfluence, lowestInfluence, shortGpt } from './shortgpt.ts';

describe('ShortGPT', () => {
  it('BI and lowest-BI selection on a hand-made matrix', () => {
    const S = [
      [1, 0.9, 0.8, 0.7],
      [0.9, 1, 0.99, 0.8],
      [0.8, 0.99, 1, 0.95],
      [0.7, 0.8, 0.95, 1],
    ];
    expect(blockInfluence(S).map((x) => +x.toFixed(6))).toEqual([0.1, 0.01, 0.05]);
    expect(lowestInfluence(blockInfluence(S), 2)).toEqual([1, 2]);
    expect(lowestInfluence([0.2, 0.1, 0.1, 0.3], 1)).toEqual([1]);
  });

  it('removes the blocks that barely change the residual stream; BI matches the float64 reference', async () => {
    const model = randomModel({ numLayers: 5, seed: 21 });
    for (const l of [2, 3]) model.layers[l].o.data.fill(0), model.layers[l].down.data.fill(0);
    model.layers[1].o.data.forEach((v, i, a) => (a[i] = v * 1e-2));
    model.layers[1].down.data.forEach((v, i, a) => (a[i] = v * 1e-2));
    const ids = Array.from({ length: 200 }, (_, i) => 3 + ((i * 37) % 90));
    const calib = buildCalibrationSet(ids, 1, { samples: 3, seq: 10, seed: 0 });
    const r = await shortGpt(model, calib, { remove: 3, threads: 1, provider: 'cpu' });
    expect(r.removed).toEqual([1, 2, 3]);
    expect(r.model.layers).toEqual([model.layers[0], model.layers[4]]);
    expect(r.model.config.numLayers).toBe(2);
    const cos = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i], 0) / Math.hypot(...a) / Math.hypot(...b);
    const bi = new Array(5).fill(0);
    for (const s of calib.samples) {
      const { hidden } = forward64(model, s);
      for (let l = 0; l < 5; l++) for (let t = 0; t < s.length; t++) bi[l] += (1 - cos(hidden[l][t], hidden[l + 1][t])) / (3 * s.length);
    }
    r.blockInfluence.forEach((x, l) => expect(x).toBeCloseTo(bi[l], 5));
    expect(bi[2]).toBeCloseTo(0, 12);
  });
});
