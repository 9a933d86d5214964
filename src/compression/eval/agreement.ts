/**
 * @module Agreement between two models on the same held-out text: the fraction of positions where
 * their greedy next tokens match, and the mean KL(P_a || P_b) of their next-token distributions.
 * Windows are cut as perplexity cuts them ({@link scoringWindows}: BOS + `seq` tokens, one prediction per token).
 */
import { InvalidRequest } from '../../errors.ts';
import { argmax, logSoftmax } from '../../serving/generate/sampling.ts';
import { scoringWindows } from '../../serving/score.ts';
import type { DecoderSession } from '../../serving/session/backend.ts';

/** Agreement of model b with model a. */
export interface Agreement {
  /** Fraction of positions whose argmax tokens match. */
  top1: number;
  /** Mean KL(P_a || P_b) per position, in nats. */
  kl: number;
  positions: number;
}

/**
 * KL(P || Q) = sum_i p_i (log p_i - log q_i) from two logits rows, in float64.
 * @example klFromLogits([0, 0], [0, 0]) // 0
 */
export function klFromLogits(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const la = logSoftmax(a);
  const lb = logSoftmax(b);
  let kl = 0;
  for (let i = 0; i < la.length; i++) {
    const p = Math.exp(la[i]);
    if (p > 0) kl += p * (la[i] - lb[i]);
  }
  return Math.max(0, kl);
}

/**
 * Compares `b` to `a` on `ids` (a tokenized text, no BOS), `batch` windows of equal length at a time.
 * @example const { top1, kl } = await agreement(dense, compressed, tok.encode(text), { seq: 256, bos: 1 });
 */
export async function agreement(
  a: DecoderSession,
  b: DecoderSession,
  ids: readonly number[],
  opts: { seq: number; bos: number; batch?: number; onProgress?: (done: number, total: number) => void },
): Promise<Agreement> {
  if (a.vocabSize !== b.vocabSize) throw new InvalidRequest(`the models' vocabularies differ (${a.vocabSize} vs ${b.vocabSize})`, 'against');
  const batches = scoringWindows(ids, { ...opts, context: Math.min(a.maxPositions, b.maxPositions) });
  if (ids.length === 0) throw new InvalidRequest('the text has no tokens to compare on', 'text');
  const V = a.vocabSize;
  let same = 0;
  let kl = 0;
  let count = 0;
  for (const { windows, len, ids: flat, done, total } of batches) {
    const la = (await a.step(flat, windows.length, null)).logits;
    const lb = (await b.step(flat, windows.length, null)).logits;
    for (let r = 0; r < windows.length; r++) {
      for (let t = 0; t < len; t++) {
        const row = (r * (len + 1) + t) * V;
        const pa = la.subarray(row, row + V);
        const pb = lb.subarray(row, row + V);
        if (argmax(pa) === argmax(pb)) same++;
        kl += klFromLogits(pa, pb);
        count++;
      }
    }
    opts.onProgress?.(done, total);
  }
  return { top1: same / count, kl: kl / count, positions: count };
}
