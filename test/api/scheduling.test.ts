/**
 * Serving under load and at the edges: 429 when a variant's queue is full, a disconnected stream stops its
 * generation, 503 for a variant that is not ready, and LRU eviction of loaded variants by memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countParams } from '../../src/model/types.ts';
import { startGateway, VARIANT, type TestGateway } from './gateway-server.ts';

/** A response body as JSON, untyped: the tests check its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ limits: { concurrency: 1, queue: 1 } });
});
afterAll(() => gw.close());

const complete = (body: object, signal?: AbortSignal) =>
  fetch(`${gw.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });

describe('scheduler at the edge', () => {
  it('answers 429 in OpenAI shape when the queue is full, and serves the rest', async () => {
    const body = { model: 'stories260K', prompt: 'Once', max_tokens: 200, temperature: 0 };
    const results = await Promise.all(Array.from({ length: 6 }, () => complete(body)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses).toContain(429);
    const refused = results.find((r) => r.status === 429)!;
    expect((await json(refused)).error).toMatchObject({ type: 'rate_limit_error', code: 'overloaded' });
    for (const r of results.filter((x) => x.status === 200)) expect((await json(r)).choices[0].text.length).toBeGreaterThan(0);
    expect(gw.pool.get('stories260K').scheduler.load).toEqual({ running: 0, waiting: 0 });
  });

  it('a client that disconnects stops its generation', async () => {
    const ac = new AbortController();
    const res = await complete({ model: 'stories260K', prompt: '', max_tokens: 500, temperature: 0, stream: true }, ac.signal);
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    await reader.cancel().catch(() => {});
    let load = gw.pool.get('stories260K').scheduler.load;
    for (let t = 0; t < 50 && load.running > 0; t++) {
      await new Promise((r) => setTimeout(r, 20));
      load = gw.pool.get('stories260K').scheduler.load;
    }
    expect(load.running).toBe(0);
    const last = gw.metrics.window('stories260K').at(-1)!;
    expect(last.completionTokens).toBeLessThan(500);
  });
});

describe('variants that are not ready, and memory', () => {
  it('answers 503 for a variant still compressing', async () => {
    gw.pool.register('stories260K:pending', { parent: 'stories260K', method: 'flattengpt', pending: 'compressing' }, async () => gw.original);
    const res = await complete({ model: 'stories260K:pending', prompt: 'x', max_tokens: 1 });
    expect(res.status).toBe(503);
    expect((await json(res)).error).toMatchObject({ code: 'model_not_ready', param: 'model' });
    await gw.pool.remove('stories260K:pending');
  });

  it('evicts the least recently used idle variant when over the memory budget, and reloads it lazily', async () => {
    const bytes = countParams(gw.original.model) * 8;
    const small = await startGateway({ maxResidentBytes: Math.floor(bytes * 1.5) });
    try {
      let loads = 0;
      small.pool.register('copy', { parent: null, method: 'original' }, async () => (loads++, small.original));
      const post = (model: string) => fetch(`${small.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, prompt: 'A', max_tokens: 2 }) });
      expect((await post('stories260K')).status).toBe(200);
      expect((await post(VARIANT)).status).toBe(200);
      expect(small.pool.get('stories260K').resident).toBe(false);
      expect(small.pool.get(VARIANT).resident).toBe(true);
      expect((await post('copy')).status).toBe(200);
      expect(small.pool.get(VARIANT).resident).toBe(false);
      expect((await post('copy')).status).toBe(200);
      expect(loads).toBe(1);
      expect((await post('stories260K')).status).toBe(200);
      expect(small.pool.get('stories260K').resident).toBe(true);
    } finally {
      await small.close();
    }
  });
});
