/**
 * Issue 5's acceptance: the real `openai` client against a real server with stories260K and a
 * compressed variant.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { perplexity } from '../../src/serving/score.ts';
import { createDecoderSession } from '../../src/serving/session/local-backend.ts';
import { startGateway, VARIANT, type TestGateway } from './gateway-server.ts';

/** A response body as JSON, untyped: the tests check its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();

let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  gw = await startGateway();
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => gw.close());

describe('OpenAI client', () => {
  it('lists the original and the variant with its parent', async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['stories260K', VARIANT]));
    const v = list.data.find((m) => m.id === VARIANT) as unknown as { parent: string; owned_by: string; created: number };
    expect(v.parent).toBe('stories260K');
    expect(v.owned_by).toBe('flatgate');
    expect(v.created).toBeGreaterThan(0);
  });

  it('completes greedily, as llama2.c does, on both variants', async () => {
    const r = await client.completions.create({ model: 'stories260K', prompt: '', max_tokens: 30, temperature: 0 });
    expect(r.choices[0].text.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
    expect(r.usage).toMatchObject({ prompt_tokens: 1, completion_tokens: 30, total_tokens: 31 });
    expect(r.model).toBe('stories260K');
    const v = await client.completions.create({ model: VARIANT, prompt: 'Once upon a time', max_tokens: 20, temperature: 0 });
    expect(v.model).toBe(VARIANT);
    expect(v.choices[0].text.length).toBeGreaterThan(0);
  });

  it('honours n, seed, stop, top_k and logprobs', async () => {
    const r = await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time', max_tokens: 24, temperature: 1, n: 3, seed: 7, logprobs: 2 });
    expect(r.choices).toHaveLength(3);
    const again = await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time', max_tokens: 24, temperature: 1, n: 3, seed: 7, logprobs: 2 });
    expect(again.choices.map((c) => c.text)).toEqual(r.choices.map((c) => c.text));
    const lp = r.choices[0].logprobs!;
    expect(lp.tokens!.join('')).toBe(r.choices[0].text);
    expect(lp.token_logprobs!.every((x) => x! <= 0)).toBe(true);
    expect(Object.keys(lp.top_logprobs![0]!).length).toBeGreaterThanOrEqual(1);
    const stopped = await client.completions.create({ model: 'stories260K', prompt: '', max_tokens: 60, temperature: 0, stop: ['Lily'] });
    expect(stopped.choices[0].text).toBe('Once upon a time, there was a little girl named ');
    expect(stopped.choices[0].finish_reason).toBe('stop');
    const k1 = await client.completions.create({ model: 'stories260K', prompt: 'The dog', max_tokens: 10, temperature: 1.5, top_k: 1 } as never);
    const greedy = await client.completions.create({ model: 'stories260K', prompt: 'The dog', max_tokens: 10, temperature: 0 });
    expect(k1.choices[0].text).toBe(greedy.choices[0].text);
  });

  it('chats, with usage and token logprobs', async () => {
    const r = await client.chat.completions.create({
      model: 'stories260K',
      messages: [{ role: 'user', content: 'Tell me a story about a cat.' }],
      max_tokens: 20,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0].message.role).toBe('assistant');
    expect(r.choices[0].message.content!.length).toBeGreaterThan(0);
    expect(r.choices[0].logprobs!.content!.map((t) => t.token).join('')).toBe(r.choices[0].message.content);
    expect(r.usage!.completion_tokens).toBe(20);
  });

  it('streams completions and chat as SSE chunks, with usage when asked', async () => {
    const full = await client.completions.create({ model: 'stories260K', prompt: 'Once upon', max_tokens: 25, temperature: 0 });
    const stream = await client.completions.create({ model: 'stories260K', prompt: 'Once upon', max_tokens: 25, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      if (chunk.choices[0]) text += chunk.choices[0].text;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(5);
    expect(text).toBe(full.choices[0].text);
    expect(usage).toMatchObject({ completion_tokens: 25 });

    const chat = await client.chat.completions.create({ model: VARIANT, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 12, temperature: 0, stream: true });
    let content = '';
    let finish;
    for await (const chunk of chat) {
      content += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(content.length).toBeGreaterThan(0);
    expect(finish).toBe('length');
  });

  it('scores a prompt with echo + logprobs + max_tokens 0, matching perplexity', async () => {
    const text = 'Once upon a time, there was a dog named Max. Max liked to run in the park with his friend.';
    const r = await client.completions.create({ model: 'stories260K', prompt: text, max_tokens: 0, echo: true, logprobs: 1 });
    const lp = r.choices[0].logprobs!;
    expect(r.choices[0].text).toBe(text);
    expect(lp.token_logprobs![0]).toBeNull();
    const sum = lp.token_logprobs!.slice(1).reduce((s, x) => s + x!, 0);
    const session = await createDecoderSession(gw.original.model, { threads: 1 });
    const ids = gw.original.tokenizer.encode(text);
    const ppl = await perplexity(session, ids, { seq: ids.length, bos: 1 });
    expect(-sum / ids.length).toBeCloseTo(ppl.nll, 5);
    expect(lp.tokens!.join('')).toBe(text);
    await session.release();
  });
});

describe('A/B routing and shadow traffic', () => {
  it('splits by weight, sticky per user, and says which variant served', async () => {
    const put = await fetch(`${gw.url}/v1/models/stories260K/route`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ arms: [{ variant: 'stories260K', weight: 50 }, { variant: VARIANT, weight: 50 }] }),
    });
    expect(put.status).toBe(200);
    const served: Record<string, string> = {};
    for (let u = 0; u < 60; u++) {
      const r = await client.completions.create({ model: 'stories260K', prompt: 'A', max_tokens: 1, temperature: 0, user: `user-${u}` });
      served[`user-${u}`] = r.model;
    }
    const share = Object.values(served).filter((m) => m === VARIANT).length / 60;
    expect(share).toBeGreaterThan(0.3);
    expect(share).toBeLessThan(0.7);
    for (let u = 0; u < 10; u++) {
      const res = await fetch(`${gw.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'stories260K', prompt: 'A', max_tokens: 1, user: `user-${u}` }),
      });
      expect(res.headers.get('x-flatgate-variant')).toBe(served[`user-${u}`]);
      expect((await json(res)).model).toBe(served[`user-${u}`]);
    }
    // the original stays reachable by its alias while a route is set
    expect((await client.completions.create({ model: 'stories260K:original', prompt: 'A', max_tokens: 1 })).model).toBe('stories260K');
  });

  it('a 90/10 canary sends about a tenth to the variant', async () => {
    await gw.router.set({ model: 'stories260K', arms: [{ variant: 'stories260K', weight: 90 }, { variant: VARIANT, weight: 10 }], shadowRate: 0 });
    let variant = 0;
    const n = 2000;
    for (let u = 0; u < n; u++) if (gw.router.assign(gw.router.get('stories260K')!, `canary-${u}`).variant === VARIANT) variant++;
    expect(variant / n).toBeGreaterThan(0.08);
    expect(variant / n).toBeLessThan(0.12);
  });

  it('shadow mode records agreement between the arms, and the comparison shows it', async () => {
    await fetch(`${gw.url}/v1/models/stories260K/route`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ arms: [{ variant: 'stories260K', weight: 1 }, { variant: VARIANT, weight: 0 }], shadow_rate: 1 }),
    });
    for (let i = 0; i < 4; i++) await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time', max_tokens: 16, temperature: 0, user: `s${i}` });
    let agreement = null;
    for (let t = 0; t < 50 && !agreement; t++) {
      await new Promise((r) => setTimeout(r, 100));
      agreement = gw.metrics.agreement('stories260K', VARIANT);
    }
    expect(agreement).not.toBeNull();
    expect(agreement!.top1).toBeGreaterThan(0);
    expect(agreement!.top1).toBeLessThanOrEqual(1);
    const cmp = await json(fetch(`${gw.url}/v1/models/stories260K/comparison`));
    expect(cmp.variants.find((v: { id: string }) => v.id === VARIANT).agreement.top1).toBeCloseTo(agreement!.top1, 10);
    await fetch(`${gw.url}/v1/models/stories260K/route`, { method: 'DELETE' });
  });
});

describe('metrics and comparison', () => {
  it('/metrics is valid Prometheus text with vLLM names, labelled by model and variant', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const names = new Set<string>();
    for (const line of text.trim().split('\n')) {
      if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
        expect(line).toMatch(/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/);
        continue;
      }
      const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\} (-?[0-9.eE+-]+|\+Inf|NaN)$/);
      expect(m, line).not.toBeNull();
      names.add(m![1]);
    }
    for (const n of ['time_to_first_token_seconds_bucket', 'inter_token_latency_seconds_count', 'e2e_request_latency_seconds_sum', 'request_queue_time_seconds_bucket', 'prompt_tokens_total', 'generation_tokens_total']) {
      expect(names).toContain(`flatgate:${n}`);
    }
    expect(text).toContain(`variant="${VARIANT}"`);
    expect(text).toContain('model="stories260K"');
  });

  it("the comparison's numbers move when traffic flows", async () => {
    const before = await json(fetch(`${gw.url}/v1/models/stories260K/comparison`));
    const count = (t: { variants: { id: string; latency: { requests: number } }[] }, id: string) => t.variants.find((v) => v.id === id)!.latency.requests;
    for (let i = 0; i < 3; i++) await client.completions.create({ model: VARIANT, prompt: 'Tom', max_tokens: 8, temperature: 0 });
    const after = await json(fetch(`${gw.url}/v1/models/stories260K/comparison`));
    expect(count(after, VARIANT)).toBe(count(before, VARIANT) + 3);
    const v = after.variants.find((x: { id: string }) => x.id === VARIANT);
    expect(v.latency.ttft.p50).toBeGreaterThan(0);
    expect(v.latency.e2e.p99).toBeGreaterThanOrEqual(v.latency.e2e.p50);
    expect(v.latency.tokens_per_second).toBeGreaterThan(0);
    expect(v.ratios.layers).toBeCloseTo(4 / 5, 10);
    expect(v.ratios.ppl).toBeCloseTo(1.4, 10);
  });

  it('the benchmark runs the same load on each variant', async () => {
    const r = await json(fetch(`${gw.url}/v1/models/stories260K/benchmark`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: 4, concurrency: 2, max_tokens: 8 }) }));
    expect(r.object).toBe('benchmark');
    for (const v of r.variants) expect(v.latency.requests).toBe(4);
  });
});

describe('bad input gets a 4xx in OpenAI shape and the server keeps serving', () => {
  const post = (path: string, body: string) => fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const cases: [string, string, string, number][] = [
    ['unknown model', '/v1/completions', JSON.stringify({ model: 'nope', prompt: 'x' }), 404],
    ['negative max_tokens', '/v1/completions', JSON.stringify({ model: 'stories260K', prompt: 'x', max_tokens: -1 }), 400],
    ['prompt over the context', '/v1/completions', JSON.stringify({ model: 'stories260K', prompt: 'word '.repeat(2000), max_tokens: 1 }), 400],
    ['malformed JSON', '/v1/completions', '{"model": "stories260K", "prompt": ', 400],
    ['huge n', '/v1/completions', JSON.stringify({ model: 'stories260K', prompt: 'x', n: 1000 }), 400],
    ['token id outside the vocabulary', '/v1/completions', JSON.stringify({ model: 'stories260K', prompt: [1, 99999], max_tokens: 1 }), 400],
    ['chat without messages', '/v1/chat/completions', JSON.stringify({ model: 'stories260K', messages: [] }), 400],
    ['oversize body', '/v1/completions', JSON.stringify({ model: 'stories260K', prompt: 'x'.repeat(2 << 20) }), 413],
  ];
  for (const [name, path, body, status] of cases) {
    it(name, async () => {
      const res = await post(path, body);
      expect(res.status).toBe(status);
      const reply = await json(res);
      expect(Object.keys(reply.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(reply.error.message.length).toBeGreaterThan(0);
      const ok = await client.completions.create({ model: 'stories260K', prompt: 'Once', max_tokens: 2 });
      expect(ok.choices[0].text.length).toBeGreaterThan(0);
    });
  }

  it('the openai client sees typed errors', async () => {
    await expect(client.completions.create({ model: 'nope', prompt: 'x' })).rejects.toMatchObject({ status: 404, type: 'not_found_error' });
  });
});
