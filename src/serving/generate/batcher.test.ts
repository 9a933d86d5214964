import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORIES260K } from '../../../test/fixtures/paths.ts';
import { loadModel } from '../../model/load.ts';
import type { LoadedModel } from '../../model/types.ts';
import type { DecoderSession } from '../session/backend.ts';
import { createDecoderSession } from '../session/local-backend.ts';
import { ContinuousBatcher } from './batcher.ts';
import { generate, type GenerateParams, type GeneratedToken } from './generator.ts';

let loaded: LoadedModel;
let alone: DecoderSession;
let shared: DecoderSession;
beforeAll(async () => {
  loaded = await loadModel(STORIES260K);
  alone = await createDecoderSession(loaded.model, { threads: 1, provider: 'cpu' });
  shared = await createDecoderSession(loaded.model, { threads: 1, provider: 'cpu' });
});
afterAll(async () => {
  await alone.release();
  await shared.release();
});

interface Case {
  prompt: string;
  params: Partial<GenerateParams>;
  /** Join after the first request produced this many tokens. */
  after?: number;
}

const cases: Case[] = [
  { prompt: 'Once upon a time', params: { maxTokens: 120 } },
  { prompt: '', params: { maxTokens: 7 } },
  { prompt: 'Lily and Ben went to the park. They saw a big dog and', params: { maxTokens: 60, topLogprobs: 3 } },
  { prompt: 'The cat', params: { maxTokens: 90, stop: ['.'] }, after: 5 },
  { prompt: 'One day, a little girl named Sue', params: { maxTokens: 40, temperature: 0.8, topP: 0.9, seed: 42 }, after: 12 },
  { prompt: 'Tom had a red ball', params: { maxTokens: 200 }, after: 30 },
];

const full = (p: Partial<GenerateParams>): GenerateParams => ({
  maxTokens: 16,
  temperature: 0,
  topP: 1,
  topK: 0,
  stopIds: [loaded.model.config.eosTokenId, loaded.model.config.bosTokenId],
  ...p,
});

async function collect(it: AsyncGenerator<GeneratedToken, string>, onToken?: (n: number) => void): Promise<{ tokens: GeneratedToken[]; finish: string }> {
  const tokens: GeneratedToken[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) return { tokens, finish: r.value };
    tokens.push(r.value);
    onToken?.(tokens.length);
  }
}

const ids = (prompt: string) => loaded.tokenizer.encode(prompt, { bos: true });

describe('continuous batching through a real session', () => {
  it('gives every request exactly what it gets alone: tokens, text, stop strings, logprobs, seeded sampling', async () => {
    const expected: { tokens: GeneratedToken[]; finish: string }[] = [];
    for (const c of cases) expected.push(await collect(generate(alone, loaded.tokenizer, ids(c.prompt), full(c.params))));

    const batcher = new ContinuousBatcher(shared, 4);
    let peakRows = 0;
    const waiting = new Map<number, () => void>();
    const started: Promise<{ tokens: GeneratedToken[]; finish: string }>[] = [];
    const start = (i: number) => {
      started[i] = collect(batcher.generate(loaded.tokenizer, ids(cases[i].prompt), full(cases[i].params)), (n) => {
        peakRows = Math.max(peakRows, batcher.load.active);
        if (i === 0) for (const [at, go] of waiting) if (n >= at) (waiting.delete(at), go());
      });
    };
    cases.forEach((c, i) => {
      if (c.after === undefined) start(i);
      else waiting.set(c.after, () => start(i));
    });
    const first = await started[0];
    const got = [first, ...(await Promise.all(started.slice(1)))];
    expect(peakRows).toBe(4);
    got.forEach((g, i) => {
      const want = expected[i];
      expect(g.finish, `request ${i}`).toBe(want.finish);
      expect(g.tokens.map((t) => t.id), `request ${i}`).toEqual(want.tokens.map((t) => t.id));
      expect(g.tokens.map((t) => t.text).join(''), `request ${i}`).toBe(want.tokens.map((t) => t.text).join(''));
      g.tokens.forEach((t, k) => {
        expect(Math.abs(t.logprob! - want.tokens[k].logprob!)).toBeLessThan(1e-4);
        expect(t.top?.map((a) => a.id)).toEqual(want.tokens[k].top?.map((a) => a.id));
      });
    });
    expect(got[3].finish).toBe('stop'); // the stop string ended it
    expect(got[1].tokens.length).toBe(7);
    await batcher.idle();
    expect(batcher.load).toEqual({ active: 0, pending: 0, kvBytes: 0 });
  });

  it('a cancelled request leaves the batch at once; the others are unaffected; the batch bound makes others wait', async () => {
    const want = await collect(generate(alone, loaded.tokenizer, ids('Once upon a time'), full({ maxTokens: 80 })));
    const batcher = new ContinuousBatcher(shared, 2);
    const ac = new AbortController();
    const keep = collect(batcher.generate(loaded.tokenizer, ids('Once upon a time'), full({ maxTokens: 80 })));
    const cancelled = collect(batcher.generate(loaded.tokenizer, ids('The dog'), full({ maxTokens: 300 }), ac.signal), (n) => {
      if (n === 5) ac.abort();
    });
    // a third waits for a free row, then runs
    const third = collect(batcher.generate(loaded.tokenizer, ids('A bird'), full({ maxTokens: 10 })));
    await Promise.resolve();
    expect(batcher.load.pending).toBeGreaterThan(0);
    const c = await cancelled;
    expect(c.finish).toBe('stop');
    expect(c.tokens.length).toBeLessThanOrEqual(6);
    expect((await keep).tokens.map((t) => t.id)).toEqual(want.tokens.map((t) => t.id));
    expect((await third).tokens.length).toBe(10);

    // a consumer that breaks out of the loop frees its row too
    const it = batcher.generate(loaded.tokenizer, ids('Hi'), full({ maxTokens: 300 }));
    await it.next();
    await it.return('stop');
    await batcher.idle();
    expect(batcher.load).toEqual({ active: 0, pending: 0, kvBytes: 0 });
  });

  it('with logprobs off gives the same tokens and computes no log-probability', async () => {
    const on = await collect(generate(alone, loaded.tokenizer, ids('Once upon a time'), full({ maxTokens: 20 })));
    const off = await collect(generate(alone, loaded.tokenizer, ids('Once upon a time'), full({ maxTokens: 20, logprobs: false })));
    expect(off.tokens.map((t) => t.id)).toEqual(on.tokens.map((t) => t.id));
    expect(on.tokens.every((t) => Number.isFinite(t.logprob))).toBe(true);
    expect(off.tokens.every((t) => t.logprob === undefined)).toBe(true);
  });
});
