/**
 * @module Prompt scoring: the log-probability of every token of a text given the ones before it (and the
 * top-k alternatives), and perplexity over windows of a long text. Used by `flatgate score`, the OpenAI
 * `echo` + `logprobs` path and compression's evaluation.
 */
import { InvalidRequest } from '../errors.ts';
import { logSoftmax, topLogprobs } from './generate/sampling.ts';
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

/**
 * Perplexity of `ids` (a whole tokenized text, no BOS): consecutive windows of `seq` tokens (the last may
 * be shorter), each scored with BOS prepended so that every one of its tokens is predicted.
 * Windows of equal length run `batch` at a time.
 */
export async function perplexity(
  decoder: DecoderSession,
  ids: readonly number[],
  opts: { seq: number; bos: number; batch?: number; onProgress?: (done: number, total: number) => void },
): Promise<Perplexity> {
  const { seq, bos } = opts;
  if (!Number.isInteger(seq) || seq < 1 || seq + 1 > decoder.maxPositions) {
    throw new InvalidRequest(`window length ${seq} must be between 1 and the context minus BOS (${decoder.maxPositions - 1})`, 'seq');
  }
  if (ids.length === 0) throw new InvalidRequest('the text has no tokens to score', 'text');
  const V = decoder.vocabSize;
  const windows: number[][] = [];
  for (let s = 0; s < ids.length; s += seq) windows.push(ids.slice(s, s + seq));
  const batchSize = Math.max(1, opts.batch ?? 4);
  let nll = 0;
  let count = 0;
  for (let w = 0; w < windows.length; ) {
    const len = windows[w].length;
    const group: number[][] = [];
    while (w < windows.length && windows[w].length === len && group.length < batchSize) group.push(windows[w++]);
    const flat = group.flatMap((win) => [bos, ...win]);
    const step = await decoder.step(flat, group.length, null);
    for (let b = 0; b < group.length; b++) {
      for (let t = 0; t < len; t++) {
        const row = (b * (len + 1) + t) * V;
        nll -= logSoftmax(step.logits.subarray(row, row + V))[group[b][t]];
        count++;
      }
    }
    opts.onProgress?.(w, windows.length);
  }
  const mean = nll / count;
  return { tokens: count, nll: mean, ppl: Math.exp(mean) };
}
