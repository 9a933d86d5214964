import { describe, expect, it } from 'vitest';
import { randomModel } from '../../../test/fixtures/random-model.ts';
import { forward64 } from '../../../test/reference/forward64.ts';
import { relErr } from '../../../test/reference/compare.ts';
import type { LlamaModel } from '../../model/types.ts';
import { createDecoderSession } from './local-backend.ts';

const shapes: [string, Parameters<typeof randomModel>[0]][] = [
  ['MHA untied', { numHeads: 4, numKvHeads: 4, seed: 2 }],
  ['GQA tied', { numHeads: 4, numKvHeads: 2, tieWordEmbeddings: true, seed: 3 }],
  ['MQA odd sizes', { hiddenSize: 40, numHeads: 5, numKvHeads: 1, headDim: 8, intermediateSize: 73, vocabSize: 97, numLayers: 3, seed: 4 }],
  ['Qwen2 biases', { architecture: 'Qwen2ForCausalLM', qkvBias: true, seed: 5 }],
  ['Mistral sliding window', { architecture: 'MistralForCausalLM', slidingWindow: 4, seed: 6 }],
];

describe('exported decoder graph vs the float64 reference', () => {
  for (const [name, opts] of shapes) {
    it(`${name}: prefill logits and hidden states within 1e-4`, async () => {
      const model: LlamaModel = randomModel(opts);
      const ids = Array.from({ length: 11 }, (_, i) => (i * 37 + 5) % model.config.vocabSize);
      const ref = forward64(model, ids);
      const s = await createDecoderSession(model, { threads: 1, provider: 'cpu', hiddenStates: true });
      const out = await s.step(ids, 1, null);
      const V = model.config.vocabSize;
      expect(out.logitsLength).toBe(ids.length);
      expect(relErr(out.logits, Float64Array.from(ref.logits.flatMap((r) => [...r])))).toBeLessThan(1e-4);
      for (let l = 0; l <= model.layers.length; l++) {
        expect(relErr(out.hidden![l], Float64Array.from(ref.hidden[l].flatMap((r) => [...r])))).toBeLessThan(1e-4);
      }
      // incremental decode with the KV cache gives the same logits as the full prefill
      let step = await s.step(ids.slice(0, 6), 1, null, 1);
      for (let t = 6; t < ids.length; t++) {
        step = await s.step([ids[t]], 1, step.cache);
        expect(relErr(step.logits, ref.logits[t])).toBeLessThan(1e-4);
      }
      expect(step.cache.length).toBe(ids.length);
      expect(V).toBe(model.config.vocabSize);
      await s.release();
    });
  }

  it('runs a batch of equal-length rows independently', async () => {
    const model = randomModel({ seed: 9 });
    const a = [3, 8, 13, 21];
    const b = [5, 7, 9, 11];
    const s = await createDecoderSession(model, { threads: 1, provider: 'cpu' });
    const out = await s.step([...a, ...b], 2, null);
    const V = model.config.vocabSize;
    const refB = forward64(model, b).logits;
    expect(relErr(out.logits.subarray(4 * V + 3 * V, 8 * V), refB[3])).toBeLessThan(1e-4);
    await s.release();
  });

  it('grows a cache past its capacity, and refuses a cache that was already consumed', async () => {
    const model = randomModel({ seed: 21 });
    const ids = Array.from({ length: 20 }, (_, i) => (i * 13 + 2) % model.config.vocabSize);
    const ref = forward64(model, ids);
    const s = await createDecoderSession(model, { threads: 1, provider: 'cpu' });
    let step = await s.step(ids.slice(0, 2), 1, null, 1, 3);
    const first = step.cache;
    for (let t = 2; t < ids.length; t++) {
      step = await s.step([ids[t]], 1, step.cache);
      expect(relErr(step.logits, ref.logits[t])).toBeLessThan(1e-4);
    }
    await expect(s.step([1], 1, first)).rejects.toThrow(/already used/);
    await s.release();
  });

  it('rejects a context overflow and out-of-vocabulary ids', async () => {
    const model = randomModel({ maxPositions: 8 });
    const s = await createDecoderSession(model, { threads: 1, provider: 'cpu' });
    await expect(s.step(Array(9).fill(1), 1, null)).rejects.toThrow(/context of 8/);
    await expect(s.step([1, 1000], 1, null)).rejects.toThrow(/outside the vocabulary/);
    await s.release();
  });

  it('falls back to the CPU provider when CUDA is not present', async () => {
    const s = await createDecoderSession(randomModel({}), { threads: 1, provider: 'auto' });
    expect(['cpu', 'cuda']).toContain(s.provider);
    await s.release();
  });
});
