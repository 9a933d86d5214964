/**
 * @module Text completion over a served model: prompt encoding, context checks, generation with the
 * sampling parameters of the OpenAI API, and prompt scoring (`echo` + `logprobs`), independent of HTTP.
 */
import { InvalidRequest } from '../errors.ts';
import type { LoadedModel, Tokenizer } from '../model/types.ts';
import type { FinishReason } from './generate/generator.ts';
import type { LogitsProcessing } from './generate/logits-processors.ts';
import type { ServedModel } from './model-pool.ts';
import { scoreTokens } from './score.ts';

/** A completion request, already validated for types and ranges. */
export interface CompletionParams extends LogitsProcessing {
  /** Text (encoded with BOS) or token ids (used as they are). */
  prompt: string | readonly number[];
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed?: number;
  stop: string[];
  /** Alternatives to report per generated token (0 = none). */
  topLogprobs?: number;
  /** Report each token's log-probability (default true); see GenerateParams.logprobs. */
  logprobs?: boolean;
  /** vLLM's `ignore_eos`: EOS does not end the generation. */
  ignoreEos?: boolean;
}

/** One streamed piece of a completion. */
export interface CompletionDelta {
  text: string;
  tokenId: number;
  /** Absent when the completion's `logprobs` is off. */
  logprob?: number;
  /** The most likely alternatives at this step, when asked for. */
  top?: { id: number; logprob: number }[];
}

/** The end of a completion. */
export interface CompletionEnd {
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  /** Prompt ids (with BOS) and generated ids, for shadow scoring. */
  promptIds: number[];
  completionIds: number[];
}

/** Prompt ids (text gets BOS; ids are taken as they are), checked against the context and vocabulary. */
export function encodePrompt(loaded: LoadedModel, prompt: string | readonly number[], maxTokens: number): number[] {
  const { tokenizer, model } = loaded;
  const ids = typeof prompt === 'string' ? tokenizer.encode(prompt, { bos: true }) : [...prompt];
  const bad = ids.find((id) => id >= model.config.vocabSize);
  if (bad !== undefined) throw new InvalidRequest(`Token id ${bad} is outside the vocabulary of ${model.config.vocabSize}`, 'prompt');
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
  if (params.maxTokens === 0) return { finishReason: 'length', promptTokens: ids.length, completionTokens: 0, promptIds: ids, completionIds: [] };
  const batcher = await served.batcher();
  const it = batcher.generate(tokenizer, ids, {
    maxTokens: params.maxTokens,
    temperature: params.temperature,
    topP: params.topP,
    topK: params.topK,
    seed: params.seed,
    stop: params.stop,
    topLogprobs: params.topLogprobs,
    logprobs: params.logprobs,
    repetitionPenalty: params.repetitionPenalty,
    frequencyPenalty: params.frequencyPenalty,
    presencePenalty: params.presencePenalty,
    logitBias: params.logitBias,
    minTokens: params.minTokens,
    stopIds: params.ignoreEos ? [] : [model.config.eosTokenId, model.config.bosTokenId],
  }, signal);
  const out: number[] = [];
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) return { finishReason: r.value, promptTokens: ids.length, completionTokens: out.length, promptIds: ids, completionIds: out };
      out.push(r.value.id);
      yield { text: r.value.text, tokenId: r.value.id, logprob: r.value.logprob, top: r.value.top };
    }
  } finally {
    await it.return('stop'); // a consumer that stops early takes the sequence out of the batch
  }
}

/** OpenAI completions `logprobs` object for a scored prompt. */
export interface PromptLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/** How many earlier tokens give a piece its context when decoding it alone (leading space, UTF-8 bytes). */
const PIECE_CONTEXT = 4;

/** The text `id` adds after `before` (the ids preceding it). */
export function pieceText(tokenizer: Tokenizer, before: readonly number[], id: number): string {
  const ctx = before.slice(-PIECE_CONTEXT);
  return tokenizer.decode([...ctx, id]).slice(tokenizer.decode(ctx).length);
}

/** The text each token adds to the decoded sequence. */
export function tokenTexts(tokenizer: Tokenizer, ids: readonly number[]): string[] {
  return ids.map((id, i) => pieceText(tokenizer, ids.slice(0, i), id));
}

/**
 * Scores the prompt as vLLM does for `echo` + `logprobs` + `max_tokens: 0`: one entry per prompt token,
 * the first (BOS for text) with a null logprob, every other token scored given all the tokens before it.
 */
export async function scorePrompt(served: ServedModel, prompt: string | readonly number[], topK: number): Promise<PromptLogprobs> {
  const loaded = await served.loaded();
  const ids = encodePrompt(loaded, prompt, 0);
  const session = await served.session();
  const { logprobs, top } = await scoreTokens(session, ids, topK);
  const { tokenizer } = loaded;
  const texts = tokenTexts(tokenizer, ids);
  const offsets: number[] = [];
  let pos = 0;
  for (const t of texts) {
    offsets.push(pos);
    pos += t.length;
  }
  const alternatives = (alts: { id: number; logprob: number }[], i: number) =>
    Object.fromEntries(alts.map((a) => [pieceText(tokenizer, ids.slice(0, i + 1), a.id), a.logprob]));
  return {
    tokens: texts,
    token_logprobs: [null, ...logprobs],
    top_logprobs: [null, ...(top ? top.map(alternatives) : logprobs.map(() => null))],
    text_offset: offsets,
  };
}
