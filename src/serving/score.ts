/**
 * @module Prompt scoring: the log-probability of every token of a text given the ones before it (and the
 * top-k alternatives), and perplexity over windows of a long text. Used by `flatgate score`, the OpenAI
 * `echo` + `logprobs` path and compression's evaluation.
 */
import { InvalidRequest } from '../errors.ts';
import { logProbOf, logSoftmax, topLogprobs } from './generate/sampling.ts';
import type { DecoderSession } from './session/backend.ts';

/** Log-probabilities of `ids[1..]`, each given the ids before it, with optional top-k alternatives. */
export interface TokenScores {
  /** logprobs[i] = log p(ids[i+1] | ids[0..i]) */
  logprobs: number[];
  /** top[i]: the k most likely tokens at that position, best first */
  top?: { id: number; logprob: number }[][];
}

/**
 * Scores a token sequence in one forward pass.
 * @example const { logprobs } = await scoreTokens(session, [bos, ...tok.encode(text)]);
 */
export async function scoreTokens(decoder: DecoderSession, ids: readonly number[], topK = 0): Promise<TokenScores> {
  if (ids.length < 2) return { logprobs: [], top: topK > 0 ? [] : undefined };
  const step = await decoder.step(ids, 1, null);
  const V = decoder.vocabSize;
  const logprobs: number[] = [];
  const top: { id: number; logprob: number }[][] = [];
  for (let t = 0; t + 1 < ids.length; t++) {
    const lp = logSoftmax(step.logits.subarray(t * V, (t + 1) * V));
    logprobs.push(lp[ids[t + 1]]);
    if (topK > 0) top.push(topLogprobs(lp, topK));
  }
  return topK > 0 ? { logprobs, top } : { logprobs };
}

/** Perplexity result: `nll` is the mean negative log-likelihood per predicted token. */
export interface Perplexity {
  tokens: number;
  nll: number;
  ppl: number;
}

/** One batch of scoring windows, as {@link scoringWindows} cuts them. */
export interface ScoringBatch {
  /** The windows of the batch (without BOS), all `len` tokens long. */
  windows: number[][];
  len: number;
  /** [windows.length, len + 1] row-major: each row is BOS then its window; logits row (r, t) predicts windows[r][t]. */
  ids: number[];
  /** Windows in this batch and the ones before it. */
  done: number;
  /** Windows in all batches. */
  total: number;
}

/**
 * Cuts `ids` (a tokenized text, no BOS) into consecutive windows of `seq` tokens (the last may be
 * shorter), each with BOS prepended so that every one of its tokens is predicted, and groups windows of
 * equal length `batch` at a time (default 4), in order.
 * @throws InvalidRequest when seq is not between 1 and `context` - 1.
 * @example for (const b of scoringWindows(ids, { seq: 256, bos: 1, context: 2048 })) await decoder.step(b.ids, b.windows.length, null);
 */
export function scoringWindows(ids: readonly number[], opts: { seq: number; bos: number; batch?: number; context: number }): ScoringBatch[] {
  const { seq, bos, context } = opts;
  if (!Number.isInteger(seq) || seq < 1 || seq + 1 > context) {
    throw new InvalidRequest(`window length ${seq} must be between 1 and the context minus BOS (${context - 1})`, 'seq');
  }
  const windows: number[][] = [];
  for (let s = 0; s < ids.length; s += seq) windows.push(ids.slice(s, s + seq));
  const batchSize = Math.max(1, opts.batch ?? 4);
  const out: ScoringBatch[] = [];
  for (let w = 0; w < windows.length; ) {
    const len = windows[w].length;
    const group: number[][] = [];
    while (w < windows.length && windows[w].length === len && group.length < batchSize) group.push(windows[w++]);
    out.push({ windows: group, len, ids: group.flatMap((win) => [bos, ...win]), done: w, total: windows.length });
  }
  return out;
}

/**
 * Perplexity of `ids` (a whole tokenized text, no BOS) over the windows of {@link scoringWindows}.
 * @example const { ppl } = await perplexity(decoder, tok.encode(text), { seq: 256, bos: tok.bosId });
 */
export async function perplexity(
  decoder: DecoderSession,
  ids: readonly number[],
  opts: { seq: number; bos: number; batch?: number; onProgress?: (done: number, total: number) => void },
): Promise<Perplexity> {
  const batches = scoringWindows(ids, { ...opts, context: decoder.maxPositions });
  if (ids.length === 0) throw new InvalidRequest('the text has no tokens to score', 'text');
  const V = decoder.vocabSize;
  let nll = 0;
  let count = 0;
  for (const { windows, len, ids: flat, done, total } of batches) {
    const step = await decoder.step(flat, windows.length, null);
    for (let b = 0; b < windows.length; b++) {
      for (let t = 0; t < len; t++) {
        const row = (b * (len + 1) + t) * V;
        nll -= logProbOf(step.logits.subarray(row, row + V), windows[b][t]);
        count++;
      }
    }
    opts.onProgress?.(done, total);
  }
  const mean = nll / count;
  return { tokens: count, nll: mean, ppl: Math.exp(mean) };
}
