import { describe, expect, it } from 'vitest';
import { STORIES260K } from '../../test/fixtures/paths.ts';
import { loadModel } from '../model/load.ts';
import { countParams } from '../model/types.ts';
import { completeStream } from './completion.ts';
import { ModelPool } from './model-pool.ts';

describe('a variant batch bounded by KV-cache memory', () => {
  it('gets as many rows as fit at full context; requests beyond wait for a row and all complete', async () => {
    const loaded = await loadModel(STORIES260K);
    const c = loaded.model.config;
    const rowBytes = 2 * c.numLayers * c.numKvHeads * c.headDim * c.maxPositions * 4;
    const pool = new ModelPool({ session: { threads: 1, provider: 'cpu' }, limits: { concurrency: 6, queue: 4 }, maxKvBytes: Math.floor(2.5 * rowBytes) });
    const served = pool.add('m', loaded);
    const batcher = await served.batcher();
    expect(batcher.maxRows).toBe(2);
    let peak = 0;
    const run = async (prompt: string) => {
      let text = '';
      for await (const d of completeStream(served, { prompt, maxTokens: 30, temperature: 0, topP: 1, topK: 0, stop: [] })) {
        peak = Math.max(peak, batcher.load.active);
        expect(batcher.load.kvBytes).toBeLessThanOrEqual(2.5 * rowBytes);
        text += d.text;
      }
      return text;
    };
    const texts = await Promise.all(['Once', 'The dog', 'A cat', 'Tom'].map(run));
    expect(peak).toBe(2);
    expect(texts.every((t) => t.length > 0)).toBe(true);
    await pool.remove('m');
  });
});

describe('a pool bounded by model memory', () => {
  it('unloads the least recently used idle model to fit the next, and loads it again on its next request', async () => {
    const loaded = await loadModel(STORIES260K);
    const bytes = countParams(loaded.model) * 12;
    let loads = 0;
    // room for one model of this size, not two
    const pool = new ModelPool({ session: { threads: 1, provider: 'cpu' }, maxResidentBytes: Math.floor(1.5 * bytes) });
    const load = async () => (loads++, loaded);
    const a = pool.register('a', { parent: null, method: 'original' }, load);
    const b = pool.register('b', { parent: null, method: 'original' }, load);
    const greedy = async (m: typeof a) => {
      let text = '';
      for await (const d of completeStream(m, { prompt: 'Once', maxTokens: 8, temperature: 0, topP: 1, topK: 0, stop: [] })) text += d.text;
      return text;
    };
    const first = await greedy(a);
    expect([a.resident, b.resident]).toEqual([true, false]);
    expect(await greedy(b)).toBe(first);
    expect([a.resident, b.resident]).toEqual([false, true]);
    expect(await greedy(a)).toBe(first);
    expect([a.resident, b.resident, loads]).toEqual([true, false, 3]);
    await pool.remove('a');
    await pool.remove('b');
  });
});
