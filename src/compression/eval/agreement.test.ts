import { describe, expect, it } from 'vitest';
import { randomModel } from '../../../test/fixtures/random-model.ts';
import { forward64, logSoftmax64 } from '../../../test/reference/forward64.ts';
import type { LlamaModel } from '../../model/types.ts';
import { createDecoderSession } from '../../serving/session/local-backend.ts';
import { agreement, klFromLogits } from './agreement.ts';

/** A copy of `model` with every weight of layer 1's MLP down projection shifted by a deterministic ripple. */
function perturbed(model: LlamaModel, size: number): LlamaModel {
  const layers = model.layers.map((l, i) =>
    i === 1 ? { ...l, down: { ...l.down, data: l.down.data.map((x, j) => x + size * Math.sin(j * 0.7)) } } : l,
  );
  return { ...model, layers };
}

const ids = Array.from({ length: 23 }, (_, i) => (i * 29 + 7) % 100);

describe('klFromLogits', () => {
  it('matches closed forms', () => {
    // p = (1/4, 3/4), q = (1/2, 1/2): KL = 1/4 ln(1/2) + 3/4 ln(3/2)
    expect(klFromLogits([0, Math.log(3)], [5, 5])).toBeCloseTo(0.25 * Math.log(0.5) + 0.75 * Math.log(1.5), 12);
    expect(klFromLogits([1, 2, 3], [1, 2, 3])).toBe(0);
    expect(klFromLogits([0, 0], [0, -800])).toBeGreaterThan(300);
  });
});

describe('agreement of two decoders on windows of a text', () => {
  it('a model with itself: top1 = 1, kl = 0', async () => {
    const model = randomModel({ seed: 21 });
    const a = await createDecoderSession(model, { threads: 1, provider: 'cpu' });
    const r = await agreement(a, a, ids, { seq: 8, bos: 1 });
    expect(r).toEqual({ top1: 1, kl: 0, positions: ids.length });
    await a.release();
  });

  it('a perturbed copy: kl > 0 and equal to the float64 closed form over the same windows', async () => {
    const model = randomModel({ seed: 22 });
    const other = perturbed(model, 0.3);
    const a = await createDecoderSession(model, { threads: 1, provider: 'cpu' });
    const b = await createDecoderSession(other, { threads: 1, provider: 'cpu' });
    const r = await agreement(a, b, ids, { seq: 8, bos: 1, batch: 2 });
    let kl = 0;
    let same = 0;
    for (let s = 0; s < ids.length; s += 8) {
      const input = [1, ...ids.slice(s, s + 8)];
      const la = forward64(model, input).logits;
      const lb = forward64(other, input).logits;
      for (let t = 0; t + 1 < input.length; t++) {
        const pa = logSoftmax64(la[t]);
        const pb = logSoftmax64(lb[t]);
        kl += pa.reduce((acc, lp, i) => acc + Math.exp(lp) * (lp - pb[i]), 0);
        if (pa.indexOf(Math.max(...pa)) === pb.indexOf(Math.max(...pb))) same++;
      }
    }
    expect(r.positions).toBe(ids.length);
    expect(r.kl).toBeGreaterThan(1e-3);
    expect(Math.abs(r.kl - kl / ids.length)).toBeLessThan(1e-4 * (kl / ids.length) + 1e-6);
    expect(r.top1).toBe(same / ids.length);
    expect(r.top1).toBeLessThan(1);
    await a.release();
    await b.release();
  });

  it('refuses mismatched vocabularies and windows past the context', async () => {
    const a = await createDecoderSession(randomModel({ seed: 23 }), { threads: 1, provider: 'cpu' });
    const b = await createDecoderSession(randomModel({ seed: 24, vocabSize: 120 }), { threads: 1, provider: 'cpu' });
    await expect(agreement(a, b, ids, { seq: 8, bos: 1 })).rejects.toThrow(/vocabularies differ/);
    await expect(agreement(a, a, ids, { seq: 128, bos: 1 })).rejects.toThrow(/window length 128/);
    await a.release();
    await b.release();
  });
});
