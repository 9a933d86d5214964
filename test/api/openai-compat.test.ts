/**
 * Issue 11: what the ecosystem's clients send works unmodified. The real `openai` client against a real
 * server with stories260K and a compressed variant: lists of prompts, streamed logprobs, models.retrieve,
 * vLLM's sampling parameters (penalties checked against a float64 reference), refusals by name, and
 * the tokenizer endpoints.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopeOf } from '../../src/routes/auth.ts';
import { forward64 } from '../reference/forward64.ts';
import { startGateway, VARIANT, type TestGateway } from './gateway-server.ts';

let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  gw = await startGateway();
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => gw.close());

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

describe('lists of prompts (item 1)', () => {
  it('texts and token-id lists give choices indexed prompt * n + i, each as its prompt alone would', async () => {
    const prompts = ['Once upon a time', 'The dog'];
    const r = await client.completions.create({ model: 'stories260K', prompt: prompts, n: 2, max_tokens: 8, temperature: 0 });
    expect(r.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    for (const [p, prompt] of prompts.entries()) {
      const alone = await client.completions.create({ model: 'stories260K', prompt, max_tokens: 8, temperature: 0 });
      expect(r.choices[p * 2].text).toBe(alone.choices[0].text);
      expect(r.choices[p * 2 + 1].text).toBe(alone.choices[0].text);
    }
    const ids = prompts.map((p) => gw.original.tokenizer.encode(p, { bos: true }));
    expect(r.usage).toMatchObject({ prompt_tokens: ids[0].length + ids[1].length, completion_tokens: 32 });
    const byIds = await client.completions.create({ model: 'stories260K', prompt: ids, max_tokens: 8, temperature: 0 });
    expect(byIds.choices.map((c) => c.text)).toEqual([r.choices[0].text, r.choices[2].text]);
    const single = await client.completions.create({ model: 'stories260K', prompt: ids[1], max_tokens: 8, temperature: 0 });
    expect(single.choices[0].text).toBe(r.choices[2].text);
  });

  it('streams every prompt with its index', async () => {
    const stream = await client.completions.create({ model: 'stories260K', prompt: ['A cat', 'A dog'], max_tokens: 6, temperature: 0, stream: true });
    const texts: string[] = ['', ''];
    for await (const chunk of stream) for (const ch of chunk.choices) texts[ch.index] += ch.text;
    const full = await client.completions.create({ model: 'stories260K', prompt: ['A cat', 'A dog'], max_tokens: 6, temperature: 0 });
    expect(texts).toEqual(full.choices.map((c) => c.text));
  });

  it('refuses bad prompts by name before running any, and keeps serving', async () => {
    const bad = await post('/v1/completions', { model: 'stories260K', prompt: [[1, 2], [1, 99999]], max_tokens: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ type: 'invalid_request_error', param: 'prompt.1' });
    const tooMany = await post('/v1/completions', { model: 'stories260K', prompt: Array(129).fill('a'), max_tokens: 1 });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.param).toBe('prompt');
    const tooLong = await post('/v1/completions', { model: 'stories260K', prompt: [[1, ...Array(600).fill(5)]], max_tokens: 1 });
    expect(tooLong.status).toBe(400);
    const tooMuch = await post('/v1/completions', { model: 'stories260K', prompt: Array(100).fill('a'), n: 16, max_tokens: 16 });
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body.error.param).toBe('n');
    const mixed = await post('/v1/completions', { model: 'stories260K', prompt: ['a', [1, 2]], max_tokens: 1 });
    expect(mixed.status).toBe(400);
    const empty = await post('/v1/completions', { model: 'stories260K', prompt: [], max_tokens: 1 });
    expect(empty.status).toBe(400);
    const ok = await client.completions.create({ model: 'stories260K', prompt: 'Once', max_tokens: 2, temperature: 0 });
    expect(ok.choices).toHaveLength(1);
  });
});

describe('streamed logprobs (item 3)', () => {
  it('completions: each chunk carries its token, equal to the non-streamed logprobs', async () => {
    const args = { model: 'stories260K', prompt: 'Once upon', max_tokens: 12, temperature: 0, logprobs: 2 };
    const full = (await client.completions.create(args)).choices[0];
    const stream = await client.completions.create({ ...args, stream: true });
    const tokens: string[] = [];
    const lps: number[] = [];
    const offsets: number[] = [];
    const tops: Record<string, number>[] = [];
    for await (const chunk of stream) {
      const lp = chunk.choices[0]?.logprobs;
      if (!lp || !lp.tokens?.length) continue;
      expect(lp.tokens).toHaveLength(1);
      tokens.push(...lp.tokens);
      lps.push(...(lp.token_logprobs as number[]));
      offsets.push(...lp.text_offset!);
      tops.push(...(lp.top_logprobs as Record<string, number>[]));
    }
    expect(tokens).toEqual(full.logprobs!.tokens);
    expect(lps).toEqual(full.logprobs!.token_logprobs);
    expect(offsets).toEqual(full.logprobs!.text_offset);
    expect(tops).toEqual(full.logprobs!.top_logprobs);
    expect(tokens.join('')).toBe(full.text);
  });

  it('chat: each chunk carries logprobs.content with token, logprob, bytes and top_logprobs', async () => {
    const args = { model: VARIANT, messages: [{ role: 'user' as const, content: 'Tell me a story.' }], max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 2 };
    const full = (await client.chat.completions.create(args)).choices[0];
    const stream = await client.chat.completions.create({ ...args, stream: true });
    const content = [];
    for await (const chunk of stream) content.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    expect(content).toEqual(full.logprobs!.content);
    expect(content[0]).toMatchObject({ token: expect.any(String), logprob: expect.any(Number), bytes: expect.any(Array) });
    expect(content[0].top_logprobs).toHaveLength(2);
  });
});

describe('models.retrieve (item 4)', () => {
  it('answers with the id it was asked for: a name, name:variant and name:original all work as model', async () => {
    for (const id of ['stories260K', VARIANT, 'stories260K:original']) {
      const m = await client.models.retrieve(id);
      expect(m.id).toBe(id);
      const r = await client.completions.create({ model: m.id, prompt: 'A', max_tokens: 1, temperature: 0 });
      expect(r.choices).toHaveLength(1);
    }
    await expect(client.models.retrieve('nope')).rejects.toMatchObject({ status: 404 });
  });
});

/** Reference greedy decoding with vLLM's penalties, in float64 from forward64, written from vLLM's definition. */
function referenceGreedy(prompt: number[], steps: number, p: { rep: number; freq: number; pres: number; bias: Record<number, number> }): number[] {
  const ids = [...prompt];
  const out: number[] = [];
  for (let s = 0; s < steps; s++) {
    const { logits } = forward64(gw.original.model, ids);
    const row = Array.from(logits[logits.length - 1]);
    for (const [id, b] of Object.entries(p.bias)) row[Number(id)] += b;
    for (let v = 0; v < row.length; v++) {
      const count = out.filter((x) => x === v).length;
      if (count > 0 || prompt.includes(v)) row[v] = row[v] > 0 ? row[v] / p.rep : row[v] * p.rep;
      row[v] -= p.freq * count + (count > 0 ? p.pres : 0);
    }
    const next = row.indexOf(Math.max(...row));
    out.push(next);
    ids.push(next);
  }
  return out;
}

describe('vLLM sampling parameters (item 5)', () => {
  it('penalties and logit_bias change greedy decoding exactly as the float64 reference', async () => {
    const prompt = 'Once upon a time, there was a little girl named Lily. She loved to play in the park. One day, she';
    const ids = gw.original.tokenizer.encode(prompt, { bos: true });
    const cases: { rep: number; freq: number; pres: number; bias: Record<number, number> }[] = [
      { rep: 1.3, freq: 0, pres: 0, bias: {} },
      { rep: 1, freq: 0.6, pres: 0.4, bias: {} },
      { rep: 1.5, freq: -0.5, pres: 1.5, bias: { 300: 6 } },
    ];
    const plain = await client.completions.create({ model: 'stories260K', prompt, max_tokens: 20, temperature: 0, logprobs: 0 });
    for (const p of cases) {
      const body = { model: 'stories260K', prompt: ids, max_tokens: 20, temperature: 0, logprobs: 0, repetition_penalty: p.rep, frequency_penalty: p.freq, presence_penalty: p.pres, logit_bias: p.bias, ignore_eos: true };
      const r = await client.completions.create(body as never);
      const want = referenceGreedy(ids, 20, p);
      expect(gw.original.tokenizer.decode([...ids, ...want]).slice(gw.original.tokenizer.decode(ids).length)).toBe(r.choices[0].text);
      expect(r.usage!.completion_tokens).toBe(20);
      expect(r.choices[0].text).not.toBe(plain.choices[0].text);
    }
    const forced = await client.completions.create({ model: 'stories260K', prompt, max_tokens: 3, temperature: 0.7, seed: 1, logit_bias: { '300': 100 } });
    expect(forced.choices[0].text).toBe(gw.original.tokenizer.decode([...ids, 300, 300, 300]).slice(gw.original.tokenizer.decode(ids).length));
  });

  it('ignore_eos runs to max_tokens; min_tokens holds back EOS and stop strings', async () => {
    const natural = await client.completions.create({ model: 'stories260K', prompt: '', max_tokens: 400, temperature: 0 });
    expect(natural.choices[0].finish_reason).toBe('stop');
    const n = natural.usage!.completion_tokens;
    const ignored = await client.completions.create({ model: 'stories260K', prompt: '', max_tokens: n + 20, temperature: 0, ignore_eos: true } as never);
    expect(ignored.choices[0].finish_reason).toBe('length');
    expect(ignored.usage!.completion_tokens).toBe(n + 20);
    const min = await client.completions.create({ model: 'stories260K', prompt: '', max_tokens: n + 20, temperature: 0, min_tokens: n + 5 } as never);
    expect(min.usage!.completion_tokens).toBeGreaterThanOrEqual(n + 5);
    const stopped = await client.completions.create({ model: 'stories260K', prompt: '', max_tokens: 60, temperature: 0, stop: ['Lily'], min_tokens: 20 } as never);
    expect(stopped.choices[0].text).toContain('named Lily');
    expect(stopped.usage!.completion_tokens).toBeGreaterThanOrEqual(20);
  });

  it('refuses what it does not implement, naming the parameter', async () => {
    const cases: [string, object, string][] = [
      ['/v1/completions', { best_of: 3, n: 1 }, 'best_of'],
      ['/v1/completions', { suffix: 'end' }, 'suffix'],
      ['/v1/completions', { logit_bias: { '99999': 1 } }, 'logit_bias'],
      ['/v1/completions', { min_tokens: 5, max_tokens: 2 }, 'min_tokens'],
      ['/v1/completions', { repetition_penalty: 0 }, 'repetition_penalty'],
      ['/v1/chat/completions', { response_format: { type: 'json_object' } }, 'response_format'],
      ['/v1/chat/completions', { tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools'],
    ];
    for (const [path, extra, param] of cases) {
      const base = path === '/v1/completions' ? { prompt: 'A' } : { messages: [{ role: 'user', content: 'A' }] };
      const r = await post(path, { model: 'stories260K', max_tokens: 1, ...base, ...extra });
      expect(r.status, param).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param });
    }
    const ok = await client.completions.create({ model: 'stories260K', prompt: 'A', max_tokens: 1, best_of: 1 });
    expect(ok.choices).toHaveLength(1);
    const text = await client.chat.completions.create({ model: 'stories260K', messages: [{ role: 'user', content: 'A' }], max_tokens: 1, response_format: { type: 'text' } });
    expect(text.choices).toHaveLength(1);
  });
});

describe("vLLM's tokenizer endpoints (item 2)", () => {
  it('tokenize, detokenize and tokenizer_info in vLLM shapes, without model when one family is served', async () => {
    const tok = gw.original.tokenizer;
    const info = (await (await fetch(`${gw.url}/tokenizer_info`)).json()) as { eos_token: string };
    expect(info).toMatchObject({ bos_token: '<s>', eos_token: '</s>', model_max_length: 512, tokenizer_class: expect.any(String) });
    const text = 'Once upon a time, there was a dog.';
    const t = await post('/tokenize', { prompt: text });
    expect(t.status).toBe(200);
    expect(t.body).toEqual({ count: t.body.tokens.length, max_model_len: 512, tokens: tok.encode(text, { bos: true }) });
    const bare = await post('/tokenize', { model: VARIANT, prompt: text, add_special_tokens: false, return_token_strs: true });
    expect(bare.body.tokens).toEqual(tok.encode(text));
    expect(bare.body.token_strs.join('')).toBe(text);
    // the harness finds EOS by encoding its text
    expect((await post('/tokenize', { prompt: info.eos_token, add_special_tokens: false })).body.tokens).toEqual([tok.eosId]);
    expect((await post('/detokenize', { tokens: t.body.tokens })).body).toEqual({ prompt: text });
    const chat = await post('/tokenize', { model: 'stories260K', messages: [{ role: 'user', content: 'Hi' }] });
    expect(chat.body.tokens[0]).toBe(tok.bosId);
    expect(tok.decode(chat.body.tokens)).toContain('Hi');
    expect((await post('/detokenize', { tokens: [1, 99999] })).status).toBe(400);
    expect((await post('/tokenize', { model: 'nope', prompt: 'a' })).status).toBe(404);
    expect((await post('/tokenize', {})).status).toBe(400);
  });

  it('sit behind the inference scope', () => {
    expect(scopeOf('GET', '/tokenizer_info')).toBe('inference');
    expect(scopeOf('POST', '/tokenize')).toBe('inference');
    expect(scopeOf('POST', '/detokenize')).toBe('inference');
  });
});
