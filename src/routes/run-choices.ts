/**
 * @module What completions and chat completions share: turning request fields into completion
 * parameters, running n choices through the inference service, and shaping token logprobs.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { InvalidRequest } from '../errors.ts';
import type { Tokenizer } from '../model/types.ts';
import { pieceText, type CompletionDelta, type CompletionEnd, type CompletionParams } from '../serving/completion.ts';
import { findModelByName } from '../db/queries/models.ts';
import { ModelNotFound, VariantNotReady } from '../errors.ts';
import { resolveServedTarget, runCompletion, type Target } from '../serving/inference.ts';
import { assertCanUse } from './auth.ts';

/** Largest n * max_tokens one request may ask for. */
const MAX_TOTAL_TOKENS = 16_384;

/** Sampling fields common to both request kinds. */
export interface SamplingFields {
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  n?: number | null;
  stop?: string | string[] | null;
  seed?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  repetition_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  min_tokens?: number | null;
  ignore_eos?: boolean | null;
}

/**
 * Completion parameters from request fields; `topLogprobs` is the alternatives per token the request asked
 * for, or null when it asked for no logprobs; `prompts` is how many prompts share them (bounds the total work).
 */
export function toParams(req: SamplingFields, prompt: string | readonly number[], defaultMaxTokens: number, topLogprobs: number | null = null, prompts = 1): CompletionParams {
  const maxTokens = req.max_tokens ?? defaultMaxTokens;
  if (prompts * (req.n ?? 1) * maxTokens > MAX_TOTAL_TOKENS) {
    throw new InvalidRequest(`prompts * n * max_tokens may not exceed ${MAX_TOTAL_TOKENS}`, 'n');
  }
  if ((req.min_tokens ?? 0) > maxTokens) throw new InvalidRequest(`min_tokens (${req.min_tokens}) may not exceed max_tokens (${maxTokens})`, 'min_tokens');
  return {
    presencePenalty: req.presence_penalty ?? 0,
    frequencyPenalty: req.frequency_penalty ?? 0,
    repetitionPenalty: req.repetition_penalty ?? 1,
    logitBias: req.logit_bias ? new Map(Object.entries(req.logit_bias).map(([id, b]) => [Number(id), b])) : undefined,
    minTokens: req.min_tokens ?? 0,
    ignoreEos: req.ignore_eos ?? false,
    prompt,
    maxTokens,
    temperature: req.temperature ?? 1,
    topP: req.top_p ?? 1,
    topK: req.top_k && req.top_k > 0 ? req.top_k : 0,
    seed: req.seed ?? undefined,
    stop: req.stop == null ? [] : typeof req.stop === 'string' ? [req.stop] : req.stop,
    // null: the request asked for no logprobs, so no token computes its own
    topLogprobs: topLogprobs ?? 0,
    logprobs: topLogprobs !== null,
  };
}

/**
 * Refuses, by name, parameters that would change the answer but are not implemented (vLLM refuses
 * `suffix` too); `best_of` equal to 1 or to n changes nothing and passes.
 */
export function refuseUnsupported(req: { best_of?: number | null; n?: number | null; suffix?: string | null; response_format?: { type: string } | null; tools?: unknown[] | null }): void {
  if (req.best_of != null && req.best_of !== 1 && req.best_of !== (req.n ?? 1)) throw new InvalidRequest('best_of other than 1 or n is not supported', 'best_of');
  if (req.suffix != null && req.suffix !== '') throw new InvalidRequest('suffix is not supported', 'suffix');
  if (req.response_format != null && req.response_format.type !== 'text') throw new InvalidRequest(`response_format ${req.response_format.type} is not supported (only text)`, 'response_format');
  if (req.tools != null && req.tools.length > 0) throw new InvalidRequest('tools are not supported', 'tools');
}

/** The user key for sticky A/B assignment: the `user` field, else the `x-flatgate-user` header. */
export function userKey(c: Context<AppEnv>, user: string | null | undefined): string | null {
  return user || c.req.header('x-flatgate-user') || null;
}

/** Choice i's seed: consecutive seeds so n choices differ but stay reproducible. */
export function choiceParams(params: CompletionParams, index: number): CompletionParams {
  return params.seed === undefined ? params : { ...params, seed: params.seed + index };
}

/** One finished choice. */
export interface FinishedChoice {
  text: string;
  deltas: CompletionDelta[];
  end: CompletionEnd;
}

/** Runs n choices one after another (each through the variant's scheduler). */
export async function runChoices(
  c: Context<AppEnv>,
  target: Target,
  params: CompletionParams,
  n: number,
  arrival: number,
): Promise<FinishedChoice[]> {
  const out: FinishedChoice[] = [];
  for (let i = 0; i < n; i++) {
    const it = runCompletion(c.var.inference, target, choiceParams(params, i), arrival, c.req.raw.signal);
    const deltas: CompletionDelta[] = [];
    for (;;) {
      const r = await it.next();
      if (r.done) {
        out.push({ text: deltas.map((d) => d.text).join(''), deltas, end: r.value });
        break;
      }
      deltas.push(r.value);
    }
  }
  return out;
}

/** Usage block from finished choices (the prompt counted once). */
export function usageOf(choices: { end: CompletionEnd }[]) {
  const prompt = choices[0]?.end.promptTokens ?? 0;
  const completion = choices.reduce((s, ch) => s + ch.end.completionTokens, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Legacy completions `logprobs` of generated tokens. */
export function completionLogprobs(tokenizer: Tokenizer, promptIds: readonly number[], deltas: CompletionDelta[], offset0: number) {
  const ids = [...promptIds];
  const tokens: string[] = [];
  const top: Record<string, number>[] = [];
  const offsets: number[] = [];
  let pos = offset0;
  for (const d of deltas) {
    const piece = pieceText(tokenizer, ids, d.tokenId);
    tokens.push(piece);
    top.push(Object.fromEntries((d.top ?? []).map((a) => [pieceText(tokenizer, ids, a.id), a.logprob])));
    offsets.push(pos);
    pos += piece.length;
    ids.push(d.tokenId);
  }
  return { tokens, token_logprobs: deltas.map((d) => d.logprob ?? null), top_logprobs: top, text_offset: offsets };
}

/** Chat `logprobs.content` of generated tokens. */
export function chatLogprobs(tokenizer: Tokenizer, promptIds: readonly number[], deltas: CompletionDelta[]) {
  const ids = [...promptIds];
  const entry = (text: string, logprob: number | null) => ({ token: text, logprob, bytes: [...new TextEncoder().encode(text)] });
  const content = deltas.map((d) => {
    const e = { ...entry(pieceText(tokenizer, ids, d.tokenId), d.logprob ?? null), top_logprobs: (d.top ?? []).map((a) => entry(pieceText(tokenizer, ids, a.id), a.logprob)) };
    ids.push(d.tokenId);
    return e;
  });
  return { content };
}

/**
 * The request's target, checked against the caller's ownership. A model that is uploaded but still
 * compressing answers 503 (not ready) rather than 404, whichever gateway is asked.
 */
export async function targetOf(c: Context<AppEnv>, model: string, user: string | null | undefined): Promise<Target> {
  let target: Target;
  try {
    target = await resolveServedTarget(c.var.inference, model, userKey(c, user));
  } catch (err) {
    const row = err instanceof ModelNotFound && c.var.platform ? await findModelByName(c.var.platform.db, model.split(':')[0]) : undefined;
    if (row?.status === 'pending') {
      assertCanUse(c, model, row.owner);
      throw new VariantNotReady(model, 'its upload is still being compressed; GET /v1/models/' + row.name + ' shows the job');
    }
    throw err;
  }
  assertCanUse(c, model, target.served.info.owner);
  return target;
}
