import { describe, expect, it } from 'vitest';
import { randomModel } from '../../../test/fixtures/random-model.ts';
import { forward64, logSoftmax64 } from '../../../test/reference/forward64.ts';
import type { LlamaModel } from '../../model/types.ts';
import { createDecoderSession } from '../../serving/session/local-backend.ts';
import { createStreamedDecoder } from '../layer-stream.ts';
import { choiceAccuracy, encodePair, loglikelihoods, predictions, type ScoringTokenizer } from './multiple-choice.ts';
import { requestsOf, type LoglikelihoodRequest, type MultipleChoiceExample } from './task-types.ts';

/** A toy tokenizer (ids < 100): one token per character, except that " " + a lower-case letter is one token. */
const tok: ScoringTokenizer = {
  bosId: 1,
  encode(text: string): number[] {
    const ids: number[] = [];
    for (let i = 0; i < text.length; i++) {
      const next = text.charCodeAt(i + 1);
      if (text[i] === ' ' && next >= 97 && next <= 122) ids.push(70 + next - 97), i++;
      else ids.push(3 + (text.charCodeAt(i) % 60));
    }
    return ids;
  },
};

/**
 * log p(cont | ctx) by the float64 reference, with the harness's left truncation to `max` positions
 * (a continuation longer than the window is scored on the tokens that have logits).
 */
function reference(model: LlamaModel, ctx: number[], cont: number[]): number {
  const max = model.config.maxPositions;
  const full = [...ctx, ...cont];
  const input = full.slice(Math.max(0, full.length - 1 - max), full.length - 1);
  const scored = cont.slice(Math.max(0, cont.length - input.length));
  const { logits } = forward64(model, input);
  let sum = 0;
  for (let j = 0; j < scored.length; j++) sum += logSoftmax64(logits[input.length - scored.length + j])[scored[j]];
  return sum;
}

const requests: LoglikelihoodRequest[] = [
  { context: 'Question: why?\nAnswer:', continuation: ' because' },
  { context: 'Question: why?\nAnswer:', continuation: ' no' },
  { context: 'Answer: ', continuation: 'yes it is' },
  { context: 'A', continuation: ' b' },
  { context: 'the cat sat on', continuation: ' the mat.' },
];

describe('encodePair (the harness _encode_pair)', () => {
  it('moves trailing context spaces into the continuation and splits the whole encoding', () => {
    expect(encodePair(tok, 'Answer: ', 'yes')).toEqual({ context: tok.encode('Answer:'), continuation: [70 + 24, ...tok.encode('es')] });
    expect(encodePair(tok, 'Q:', ' no', true).context).toEqual([1, ...tok.encode('Q:')]);
    expect(encodePair(tok, '', ' no')).toEqual({ context: [1], continuation: tok.encode(' no') });
  });
});

describe('loglikelihoods against the float64 reference forward', () => {
  it('matches per request, with batches of mixed lengths right-padded', async () => {
    const model = randomModel({ seed: 11 });
    const s = await createDecoderSession(model, { threads: 1, provider: 'cpu' });
    const got = await loglikelihoods(s, tok, requests, { batchTokens: 60 });
    const whole = await loglikelihoods(s, tok, requests, { batchTokens: 1 });
    for (let i = 0; i < requests.length; i++) {
      const p = encodePair(tok, requests[i].context, requests[i].continuation);
      const ref = reference(model, p.context, p.continuation);
      expect(Math.abs(got[i] - ref), `request ${i}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref)));
      expect(Math.abs(whole[i] - got[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref)));
    }
    await s.release();
  });

  it('matches through a model streamed block by block, opened for chunks of the batches', async () => {
    const model = randomModel({ seed: 13 });
    const opened: number[] = [];
    const factory = {
      vocabSize: model.config.vocabSize,
      maxPositions: model.config.maxPositions,
      open: (batches: Parameters<typeof createStreamedDecoder>[1]) => {
        opened.push(batches.length);
        return createStreamedDecoder(model, batches, { threads: 1, provider: 'cpu' });
      },
    };
    // one request per batch and at most ~20 tokens per opened decoder: several decoders in turn
    const got = await loglikelihoods(factory, tok, requests, { batchTokens: 1, streamTokens: 20 });
    expect(opened.length).toBeGreaterThan(1);
    expect(opened.reduce((a, b) => a + b, 0)).toBe(requests.length);
    for (let i = 0; i < requests.length; i++) {
      const p = encodePair(tok, requests[i].context, requests[i].continuation);
      const ref = reference(model, p.context, p.continuation);
      expect(Math.abs(got[i] - ref), `request ${i}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref)));
    }
  });

  it('truncates on the left when context + continuation exceed the context length; BOS on request', async () => {
    const model = randomModel({ seed: 12, maxPositions: 16 });
    const s = await createDecoderSession(model, { threads: 1, provider: 'cpu' });
    const long: LoglikelihoodRequest[] = [
      { context: 'a long context that cannot fit', continuation: ' at all' },
      { context: 'x', continuation: ' a continuation longer than sixteen' },
      { context: 'short', continuation: ' one' },
    ];
    for (const bos of [false, true]) {
      const got = await loglikelihoods(s, tok, long, { bos });
      for (let i = 0; i < long.length; i++) {
        const p = encodePair(tok, long[i].context, long[i].continuation, bos);
        const ref = reference(model, p.context, p.continuation);
        expect(Math.abs(got[i] - ref), `bos ${bos} request ${i}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref)));
      }
    }
    await s.release();
  });
});

describe('accuracy the harness way', () => {
  it('acc is argmax of the sums, acc_norm of the sums per character (code points); ties go first', () => {
    expect(predictions([-10, -12], ['a', 'abcdef'])).toEqual({ pred: 0, predNorm: 1 });
    expect(predictions([-4, -6], ['\u{1F600}\u{1F600}', 'abcd'])).toEqual({ pred: 0, predNorm: 1 });
    expect(predictions([-3, -3], ['ab', 'cd'])).toEqual({ pred: 0, predNorm: 0 });
  });

  it('choiceAccuracy counts hits from the reference log-likelihoods', async () => {
    const model = randomModel({ seed: 13 });
    const s = await createDecoderSession(model, { threads: 1, provider: 'cpu' });
    const examples: MultipleChoiceExample[] = [
      { context: 'Question: sky?\nAnswer:', choices: ['blue', 'green grass', 'red'], gold: 0 },
      { context: 'Question: two?\nAnswer:', choices: ['one', 'two'], gold: 1 },
      { context: '', choices: ['the dog ran', 'the cat ran'], continuation: 'home.', gold: 1 },
      { context: 'Q: x\nA:', choices: ['no', 'yes'], gold: 1 },
    ];
    let hits = 0;
    let hitsNorm = 0;
    for (const ex of examples) {
      const lls = ex.choices.map((c) => {
        const [ctx, cont] = ex.continuation === undefined ? [ex.context, ' ' + c] : [c, ' ' + ex.continuation];
        const p = encodePair(tok, ctx, cont);
        return reference(model, p.context, p.continuation);
      });
      const best = lls.indexOf(Math.max(...lls));
      const norm = lls.map((ll, i) => ll / ex.choices[i].length);
      if (best === ex.gold) hits++;
      if (norm.indexOf(Math.max(...norm)) === ex.gold) hitsNorm++;
    }
    // binomial standard errors sqrt(p(1-p)/n), written out here
    const se = (k: number) => Math.sqrt((k / 4) * (1 - k / 4) / 4);
    const lls = await loglikelihoods(s, tok, examples.flatMap(requestsOf));
    expect(choiceAccuracy(examples, lls, ['acc', 'acc_norm'])).toEqual({ acc: hits / 4, acc_stderr: se(hits), acc_norm: hitsNorm / 4, acc_norm_stderr: se(hitsNorm), n: 4 });
    expect(choiceAccuracy(examples, lls, ['acc'])).toEqual({ acc: hits / 4, acc_stderr: se(hits), n: 4 });
    await s.release();
  });
});
