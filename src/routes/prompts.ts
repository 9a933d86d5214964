/**
 * @module The prompts of a completions request as OpenAI and vLLM take them (a text, texts, token ids,
 * or lists of token ids), as a list; and each one encoded and checked before any of them runs, so a bad
 * prompt late in a batch costs no work.
 */
import type { LoadedModel } from '../model/types.ts';
import { encodePrompt } from '../serving/completion.ts';
import { InvalidRequest } from '../errors.ts';

/** One prompt: text (encoded with BOS) or token ids (taken as they are). */
export type Prompt = string | readonly number[];

/**
 * The request's prompts, in order. Choice `i` of prompt `p` gets index `p * n + i`, as in vLLM.
 * @example promptList([[1, 2], [3]]) // [[1, 2], [3]]; promptList([5, 6]) // [[5, 6]]
 */
export function promptList(prompt: string | readonly string[] | readonly number[] | readonly (readonly number[])[]): Prompt[] {
  if (typeof prompt === 'string') return [prompt];
  if (prompt.length > 0 && typeof prompt[0] === 'number') return [prompt as readonly number[]];
  return [...(prompt as readonly Prompt[])];
}

/**
 * Each prompt's ids, checked against the vocabulary and the context (with `maxTokens` to come), and
 * the logit_bias ids against the vocabulary.
 * @throws InvalidRequest naming `prompt` (with its index when there are several), `max_tokens` or `logit_bias`.
 */
export function checkPrompts(loaded: LoadedModel, prompts: readonly Prompt[], maxTokens: number, logitBias?: ReadonlyMap<number, number>): number[][] {
  const vocab = loaded.model.config.vocabSize;
  for (const id of logitBias?.keys() ?? []) {
    if (id >= vocab) throw new InvalidRequest(`logit_bias token id ${id} is outside the vocabulary of ${vocab}`, 'logit_bias');
  }
  return prompts.map((p, i) => {
    try {
      return encodePrompt(loaded, p, maxTokens);
    } catch (err) {
      if (err instanceof InvalidRequest && prompts.length > 1) throw new InvalidRequest(`prompt ${i}: ${err.message}`, err.param === 'prompt' ? `prompt.${i}` : err.param);
      throw err;
    }
  });
}
