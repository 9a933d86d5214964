/**
 * @module Text completion over a served model: prompt encoding, context checks, generation with the
 * sampling parameters of the OpenAI API, and prompt scoring (`echo` + `logprobs`), independent of HTTP.
 */
import { InvalidRequest } from '../errors.ts';
import type { LoadedModel, Tokenizer } from '../model/types.ts';
import { generate, type FinishReason } from './generate/generator.ts';
import type { ServedModel } from './model-pool.ts';
import { scoreTokens } from './score.ts';

/** A completion request, already validated for types and ranges. */
export interface CompletionParams {
  prompt: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed?: number;
  stop: string[];
}

/** One streamed piece of a completion. */
export interface CompletionDelta {
  text: string;
  tokenId: number;
  logprob: number;
}

/** The end of a completion. */
export interface CompletionEnd {
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
}

/** Prompt ids with BOS, checked against the context. */
export function encodePrompt(loaded: LoadedModel, prompt: string, maxTokens: number): number[] {
  const { tokenizer, model } = loaded;
  const ids = tokenizer.encode(prompt, { bos: true });
  const ctx = model.config.maxPositions;
  if (ids.length > ctx) {
    throw new InvalidRequest(`The prompt has ${ids.length} tokens, more than the model's context of ${ctx}`, 'prompt');
  }
  if (ids.length + maxTokens > ctx) {
    throw new InvalidRequest(
      `The prompt (${ids.length} tokens) plus max_tokens (${maxTokens}) exceeds the model's context of ${ctx}`,
      'max_tokens',
    );
  }
  return ids;
}

/**
 * Streams a completion: yields deltas and returns the finish reason and token counts.
 * @example for await (const d of completeStream(served, params, signal)) res.write(d.text);
 */
export async function* completeStream(
  served: ServedModel,
  params: CompletionParams,
  signal?: AbortSignal,
): AsyncGenerator<CompletionDelta, CompletionEnd> {
  const loaded = await served.loaded();
  const ids = encodePrompt(loaded, params.prompt, params.maxTokens);
  const { tokenizer, model } = loaded;
  if (params.maxTokens === 0) return { finishReason: 'length', promptTokens: ids.length, completionTokens: 0 };
  const session = await served.session();
  const it = generate(session, tokenizer, ids, {
    maxTokens: params.maxTokens,
    temperature: params.temperature,
    topP: params.topP,
    topK: params.topK,
    seed: params.seed,
    stop: params.stop,
    stopIds: [model.config.eosTokenId, model.config.bosTokenId],
  }, signal);
  let n = 0;
  for (;;) {
    const r = await it.next();
    if (r.done) return { finishReason: r.value, promptTokens: ids.length, completionTokens: n };
    n++;
    yield { text: r.value.text, tokenId: r.value.id, logprob: r.value.logprob };
  }
}

/** OpenAI completions `logprobs` object for a scored prompt. */
export interface PromptLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/** The text each token adds to the decoded sequence (the first piece keeps its leading space only after BOS). */
export function tokenTexts(tokenizer: Tokenizer, ids: readonly number[]): string[] {
  const out: string[] = [];
  let prev = '';
  for (let i = 0; i < ids.length; i++) {
    const text = tokenizer.decode(ids.slice(0, i + 1));
    out.push(text.slice(prev.length));
    prev = text;
  }
  return out;
}

/**
 * Scores the prompt as vLLM does for `echo` + `logprobs` + `max_tokens: 0`: one entry per prompt token,
 * BOS first with a null logprob, every other token scored given all the tokens before it.
 */
export async function scorePrompt(served: ServedModel, prompt: string, topK: number): Promise<PromptLogprobs> {
  const loaded = await served.loaded();
  const ids = encodePrompt(loaded, prompt, 0);
  const session = await served.session();
  const { logprobs, top } = await scoreTokens(session, ids, topK);
  const { tokenizer } = loaded;
  const texts = ['', ...tokenTexts(tokenizer, ids.slice(1))];
  const offsets: number[] = [];
  let pos = 0;
  for (const t of texts) {
    offsets.push(pos);
    pos += t.length;
  }
  const alternatives = (alts: { id: number; logprob: number }[]) =>
    Object.fromEntries(alts.map((a) => [tokenizer.decode([a.id]), a.logprob]));
  return {
    tokens: texts,
    token_logprobs: [null, ...logprobs],
    top_logprobs: [null, ...(top ? top.map(alternatives) : logprobs.map(() => null))],
    text_offset: offsets,
  };
}
