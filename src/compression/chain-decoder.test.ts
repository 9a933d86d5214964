import { describe, expect, it } from 'vitest';
import { randomModel } from '../../test/fixtures/random-model.ts';
import { block64, matVec64, rmsNorm64 } from '../../test/reference/forward64.ts';
import { relErr } from '../../test/reference/compare.ts';
import { createDecoderSession } from '../serving/session/local-backend.ts';
import { createChainDecoder } from './chain-decoder.ts';
import { flattenGroup } from './flatten/flatten-group.ts';

describe('chain decoder', () => {
  it('gives the decoder graph\'s logits on a standard model', async () => {
    const model = randomModel({ numLayers: 3, seed: 2, tieWordEmbeddings: true });
    const ids = [1, 5, 9, 44, 17, 3, 8, 8];
    const a = await createChainDecoder(model, { threads: 1, provider: 'cpu' });
    const b = await createDecoderSession(model, { threads: 1, provider: 'cpu' });
    expect(relErr((await a.step(ids, 2, null)).logits, (await b.step(ids, 2, null)).logits)).toBeLessThan(1e-5);
    const last = await a.step(ids, 2, null, 1);
    expect(last.logitsLength).toBe(1);
    await expect(a.step(ids, 2, last.cache)).rejects.toThrow(/without a KV cache/);
    await a.release();
    await b.release();
  });

  it('runs a model with a flattened, twice-wider block (float64 reference)', async () => {
    const model = randomModel({ numLayers: 4, seed: 6 });
    const cfg = model.config;
    const wide = flattenGroup(model.layers.slice(1, 3), cfg).layer;
    const flat = { ...model, layers: [model.layers[0], wide, model.layers[3]], config: { ...cfg, numLayers: 3 } };
    const ids = [1, 7, 30, 2, 99, 50];
    let X: Float64Array[] = ids.map((id) => Float64Array.from(model.embed.data.subarray(id * 64, (id + 1) * 64)));
    X = block64(model.layers[0], cfg, X);
    X = block64(wide, { ...cfg, numHeads: 2 * cfg.numHeads, numKvHeads: 2 * cfg.numKvHeads }, X);
    X = block64(model.layers[3], cfg, X);
    const want = X.flatMap((x) => [...matVec64(model.lmHead!, rmsNorm64(x, model.norm, cfg.rmsNormEps))]);
    const d = await createChainDecoder(flat, { threads: 1, provider: 'cpu' });
    expect(relErr((await d.step(ids, 1, null)).logits, want)).toBeLessThan(1e-4);
    await d.release();
  });
});
