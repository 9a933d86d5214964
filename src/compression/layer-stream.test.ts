import { describe, expect, it } from 'vitest';
import { randomModel } from '../../test/fixtures/random-model.ts';
import { relErr } from '../../test/reference/compare.ts';
import { forward64, logSoftmax64 } from '../../test/reference/forward64.ts';
import { perplexity } from '../serving/score.ts';
import type { CalibrationSet } from './calibration.ts';
import { createStreamedDecoder } from './layer-stream.ts';
import { collectSimilarity } from './statistics.ts';

const model = randomModel({ numLayers: 3, numHeads: 4, numKvHeads: 2, seed: 31 });
const V = model.config.vocabSize;
const sample = (s: number, n: number) => [1, ...Array.from({ length: n - 1 }, (_, i) => (i * 13 + s * 7 + 3) % V)];

describe('layer-by-layer streaming vs the float64 reference', () => {
  it('collectSimilarity: mean cosine of every pair of block inputs (and the final residual)', async () => {
    const calib: CalibrationSet = { samples: [0, 1, 2, 3, 4].map((s) => sample(s, 9)), seq: 9, seed: 0, file: 'test', textTokens: 45 };
    const { S, tokens } = await collectSimilarity(model, calib, { threads: 1, provider: 'cpu', batchSize: 2 });
    const L = model.layers.length;
    const ref = Array.from({ length: L + 1 }, () => new Float64Array(L + 1));
    for (const ids of calib.samples) {
      const { hidden } = forward64(model, ids);
      for (let t = 0; t < ids.length; t++) {
        for (let i = 0; i <= L; i++) {
          for (let j = 0; j <= L; j++) {
            const [a, b] = [hidden[i][t], hidden[j][t]];
            let dot = 0, na = 0, nb = 0;
            for (let c = 0; c < a.length; c++) [dot, na, nb] = [dot + a[c] * b[c], na + a[c] * a[c], nb + b[c] * b[c]];
            ref[i][j] += dot / Math.sqrt(na * nb) / (calib.samples.length * calib.seq);
          }
        }
      }
    }
    expect(tokens).toBe(45);
    for (let i = 0; i <= L; i++) for (let j = 0; j <= L; j++) expect(Math.abs(S[i][j] - ref[i][j])).toBeLessThan(1e-5);
  });

  it('createStreamedDecoder: logits of every window, and the perplexity they give', async () => {
    const ids = Array.from({ length: 23 }, (_, i) => (i * 29 + 5) % V);
    const seq = 6;
    // the windows perplexity() cuts: BOS + 6 tokens, one window per batch; the last is shorter
    const windows = [];
    for (let s = 0; s < ids.length; s += seq) windows.push([1, ...ids.slice(s, s + seq)]);
    const d = await createStreamedDecoder(model, windows.map((w) => ({ ids: w, batch: 1, seq: w.length })), { threads: 1, provider: 'cpu' });
    let nll = 0;
    let count = 0;
    for (const w of windows) {
      const { logits } = forward64(model, w);
      const step = await d.step(w, 1, null);
      expect(relErr(step.logits, Float64Array.from(logits.flatMap((r) => [...r])))).toBeLessThan(1e-4);
      const last = await d.step(w, 1, null, 1);
      expect(relErr(last.logits, logits.at(-1)!)).toBeLessThan(1e-4);
      for (let t = 0; t + 1 < w.length; t++) (nll -= logSoftmax64(logits[t])[w[t + 1]]), count++;
    }
    const p = await perplexity(d, ids, { seq, bos: 1, batch: 1 });
    expect(p.tokens).toBe(count);
    expect(Math.abs(p.nll - nll / count)).toBeLessThan(1e-5);
    await expect(d.step([1, 2], 1, null)).rejects.toThrow(/not streamed/);
    await d.release();
  });
});
