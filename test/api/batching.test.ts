/**
 * Continuous batching through HTTP: concurrent requests (streamed and not, different prompt lengths and
 * max_tokens, with logprobs and a stop string) on one variant share decode steps and each gets exactly
 * the greedy output the model gives that request alone.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/serving/generate/generator.ts';
import { createDecoderSession } from '../../src/serving/session/local-backend.ts';
import { startGateway, type TestGateway } from './gateway-server.ts';

let gw: TestGateway;
let client: OpenAI;
beforeAll(async () => {
  gw = await startGateway({ limits: { concurrency: 4, queue: 8 } });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => gw.close());

const requests = [
  { prompt: 'Once upon a time', max_tokens: 150, stream: true },
  { prompt: 'Lily and Ben went to the park. They saw a big dog and', max_tokens: 40, stream: false, logprobs: 2 },
  { prompt: 'The cat', max_tokens: 100, stream: true, stop: ['!'] },
  { prompt: '', max_tokens: 12, stream: false },
  { prompt: 'Tom had a red ball. He', max_tokens: 70, stream: true },
  { prompt: 'One day', max_tokens: 25, stream: false },
];

/** The greedy text the model gives a request alone, by the single-sequence generator on its own session. */
async function alone(): Promise<{ text: string; logprobs: number[] }[]> {
  const { model, tokenizer } = gw.original;
  const session = await createDecoderSession(model, { threads: 1, provider: 'cpu' });
  const out = [];
  for (const r of requests) {
    const params = { maxTokens: r.max_tokens, temperature: 0, topP: 1, topK: 0, stop: r.stop, stopIds: [model.config.eosTokenId, model.config.bosTokenId] };
    let text = '';
    const logprobs: number[] = [];
    for await (const t of generate(session, tokenizer, tokenizer.encode(r.prompt, { bos: true }), params)) {
      text += t.text;
      logprobs.push(t.logprob!); // on by default
    }
    out.push({ text, logprobs });
  }
  await session.release();
  return out;
}

async function viaHttp(r: (typeof requests)[number]): Promise<{ text: string; logprobs: number[] }> {
  const base = { model: 'stories260K', prompt: r.prompt, max_tokens: r.max_tokens, temperature: 0, stop: r.stop, logprobs: r.logprobs };
  if (!r.stream) {
    const res = await client.completions.create({ ...base, stream: false });
    return { text: res.choices[0].text, logprobs: res.choices[0].logprobs?.token_logprobs ?? [] };
  }
  let text = '';
  for await (const chunk of await client.completions.create({ ...base, stream: true })) text += chunk.choices[0]?.text ?? '';
  return { text, logprobs: [] };
}

describe('continuous batching through the gateway', () => {
  it('concurrent requests each get their greedy output alone, while sharing decode steps', async () => {
    const want = await alone();
    const served = gw.pool.get('stories260K');
    const batcher = await served.batcher();
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, batcher.load.active)), 1);
    const got = await Promise.all(requests.map(viaHttp));
    clearInterval(watch);
    expect(peak).toBeGreaterThan(1);
    got.forEach((g, i) => {
      expect(g.text, `request ${i}`).toBe(want[i].text);
      g.logprobs.forEach((lp, k) => expect(Math.abs(lp - want[i].logprobs[k])).toBeLessThan(1e-4));
    });
    expect(got[1].logprobs.length).toBe(40);
    expect(served.scheduler.load).toEqual({ running: 0, waiting: 0 });
    await batcher.idle();
    expect(batcher.load).toEqual({ active: 0, pending: 0, kvBytes: 0 });
  });
});
