import { describe, expect, it } from 'vitest';
import { randomModel } from '../../test/fixtures/random-model.ts';
import { forward64, logSoftmax64 } from '../../test/reference/forward64.ts';
import type { LlamaModel } from '../model/types.ts';
import { buildCalibrationSet, type CalibrationSet } from './calibration.ts';
import { sleb } from './sleb.ts';
import { withoutLayers } from './tensor-ops.ts';

function referenceNll(model: LlamaModel, calib: CalibrationSet): number {
  let sum = 0;
  let n = 0;
  for (const s of calib.samples) {
    const { logits } = forward64(model, s);
    for (let t = 0; t + 1 < s.length; t++, n++) sum -= logSoftmax64(logits[t])[s[t + 1]];
  }
  return sum / n;
}

describe('SLEB', () => {
  it('removes, round by round, the block whose removal hurts the calibration NLL least (float64 reference)', async () => {
    const model = randomModel({ numLayers: 5, seed: 4 });
    model.layers[3].o.data.fill(0);
    model.layers[3].down.data.fill(0);
    const ids = Array.from({ length: 200 }, (_, i) => 3 + ((i * 53) % 95));
    const calib = buildCalibrationSet(ids, 1, { samples: 2, seq: 9, seed: 1 });
    const r = await sleb(model, calib, { remove: 2, threads: 1, provider: 'cpu' });
    expect(r.rounds).toHaveLength(2);
    expect(r.rounds[0].candidates.map((c) => c.layer)).toEqual([1, 2, 3]);
    expect(r.removed[0]).toBe(3);
    let current = model;
    let indices = [0, 1, 2, 3, 4];
    for (const round of r.rounds) {
      const ref = round.candidates.map((c) => referenceNll(withoutLayers(current, [indices.indexOf(c.layer)]), calib));
      round.candidates.forEach((c, i) => expect(c.nll).toBeCloseTo(ref[i], 4));
      const best = round.candidates[ref.indexOf(Math.min(...ref))].layer;
      expect(round.removed).toBe(best);
      current = withoutLayers(current, [indices.indexOf(best)]);
      indices = indices.filter((l) => l !== best);
    }
    expect(r.model.layers).toEqual(current.layers);
    await expect(sleb(model, calib, { remove: 4 })).rejects.toThrow(/first and last/);
  });
});
