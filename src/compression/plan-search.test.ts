import { describe, expect, it } from 'vitest';
import { randomModel } from '../../test/fixtures/random-model.ts';
import { forward64, logSoftmax64 } from '../../test/reference/forward64.ts';
import type { LlamaModel } from '../model/types.ts';
import { createRng } from '../serving/generate/sampling.ts';
import { createDecoderSession } from '../serving/session/local-backend.ts';
import type { CalibrationSet } from './calibration.ts';
import { searchPlan } from './plan-search.ts';

/** Mean next-token NLL of `set` under `model`, in float64 (BOS never predicted). */
function nll64(model: LlamaModel, set: CalibrationSet): number {
  let sum = 0;
  let n = 0;
  for (const row of set.samples) {
    const { logits } = forward64(model, row);
    for (let t = 0; t + 1 < row.length; t++, n++) sum -= logSoftmax64(logits[t])[row[t + 1]];
  }
  return sum / n;
}

/** `rows` sequences of BOS + `len` tokens sampled (temperature 1) from `model` itself. */
async function sampleFrom(model: LlamaModel, rows: number, len: number, seed: number): Promise<number[][]> {
  const d = await createDecoderSession(model, { threads: 1, provider: 'cpu' });
  const rand = createRng(seed);
  const V = model.config.vocabSize;
  const out = Array.from({ length: rows }, () => [model.config.bosTokenId]);
  try {
    for (let t = 0; t < len; t++) {
      const step = await d.step(out.flat(), rows, null, 1);
      for (let r = 0; r < rows; r++) {
        const lp = logSoftmax64(step.logits.subarray(r * V, (r + 1) * V));
        let u = rand();
        let next = V - 1;
        for (let v = 0; v < V; v++) if ((u -= Math.exp(lp[v])) <= 0) { next = v; break; }
        out[r].push(next);
      }
    }
  } finally {
    await d.release();
  }
  return out;
}

/**
 * A near tie built on purpose: block 2 of a 6-layer model is the identity (all its weights zero), so
 * flattening [2,3] and pruning back loses nothing, while [3,4] loses something. The similarity says the
 * opposite by 0.0001, so the greedy plan is the worse one. The text is sampled from the model itself
 * (sharp logits), so any change of its function costs loss in expectation (the KL to the model).
 */
async function nearTie(): Promise<{ model: LlamaModel; calib: CalibrationSet; heldOut: CalibrationSet; S: number[][] }> {
  const model = randomModel({ numLayers: 6, vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numHeads: 4, numKvHeads: 2, headDim: 8, seed: 5 });
  const b = model.layers[2];
  for (const m of [b.q, b.k, b.v, b.o, b.gate, b.up, b.down]) m.data.fill(0);
  for (let i = 0; i < model.lmHead!.data.length; i++) model.lmHead!.data[i] *= 40;
  const rows = await sampleFrom(model, 14, 23, 11);
  const set = (samples: number[][]): CalibrationSet => ({ samples, seq: 24, seed: 0, file: '<sampled>', textTokens: 14 * 23 });
  const pair: Record<string, number> = { '1,2': 0.5, '2,3': 0.96, '3,4': 0.9601 };
  const S = Array.from({ length: 7 }, (_, i) => Array.from({ length: 7 }, (_, j) => (i === j ? 1 : pair[`${Math.min(i, j)},${Math.max(i, j)}`] ?? 0.1)));
  return { model, calib: set(rows.slice(0, 6)), heldOut: set(rows.slice(6)), S };
}

describe('searchPlan', () => {
  it('keeps the plan with the lower held-out loss when the similarity ranks a near tie the wrong way', async () => {
    const { model, calib, heldOut, S } = await nearTie();
    const s = await searchPlan(model, calib, heldOut, { merges: 1, similarity: S, threads: 1, provider: 'cpu' }, { budget: 4 }, false);
    expect(s.candidates.map((c) => c.label)).toEqual(['3-4', '2-3']);
    expect(s.greedy).toBe(0);
    expect(s.chosen).toBe(1);
    expect(s.result.plan.groups.filter(([a, b]) => b > a)).toEqual([[2, 3]]);
    // the scores are the loss of each compressed model, checked in float64: merging the identity block is lossless
    const dense = nll64(model, heldOut);
    expect(s.dense.nll).toBeCloseTo(dense, 4);
    expect(s.candidates[1].nll).toBeCloseTo(dense, 4);
    expect(nll64(s.result.model, heldOut)).toBeCloseTo(s.candidates[1].nll, 4);
    expect(s.candidates[0].nll - s.candidates[1].nll).toBeGreaterThan(1e-3);
    expect(s.reason).toMatch(/plan 2-3 has the lowest next-token loss on 8 held-out calibration windows of 2 candidates/);
  });

  it("'auto' tries the o_proj refit on the kept plan and keeps whichever scores lower", async () => {
    const { model, calib, heldOut, S } = await nearTie();
    const s = await searchPlan(model, calib, heldOut, { merges: 1, similarity: S, threads: 1, provider: 'cpu' }, { budget: 4 }, 'auto');
    expect(s.candidates).toHaveLength(3);
    const [plain, refit] = [s.candidates[1], s.candidates[2]];
    expect(refit).toMatchObject({ label: '2-3', refitO: true });
    expect(s.refitO).toBe(refit.nll < plain.nll);
    expect(s.chosen).toBe(s.refitO ? 2 : 1);
    expect(s.reason).toMatch(new RegExp(`o_proj refit ${s.refitO ? 'on' : 'off'}`));
  });
});
