/**
 * @module Agreement between two models on the same held-out text: the fraction of positions where
 * their greedy next tokens match, and the mean KL(P_a || P_b) of their next-token distributions.
 * Windows are cut as perplexity cuts them (BOS + `seq` tokens, one prediction per token).
 */
import { InvalidRequest } from '../../errors.ts';
import { argmax, logSoftmax } from '../../serving/generate/sampling.ts';
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
  const { seq, bos } = opts;
  if (a.vocabSize !== b.vocabSize) throw new InvalidRequest(`the models' vocabularies differ (${a.vocabSize} vs ${b.vocabSize})`, 'against');
  const context = Math.min(a.maxPositions, b.maxPositions);
  if (!Number.isInteger(seq) || seq < 1 || seq + 1 > context) {
    throw new InvalidRequest(`window length ${seq} must be between 1 and the context minus BOS (${context - 1})`, 'seq');
  }
  if (ids.length === 0) throw new InvalidRequest('the text has no tokens to compare on', 'text');
  const V = a.vocabSize;
  const windows: number[][] = [];
  for (let s = 0; s < ids.length; s += seq) windows.push(ids.slice(s, s + seq));
  const batchSize = Math.max(1, opts.batch ?? 4);
  let same = 0;
  let kl = 0;
  let count = 0;
  for (let w = 0; w < windows.length; ) {
    const len = windows[w].length;
    const group: number[][] = [];
    while (w < windows.length && windows[w].length === len && group.length < batchSize) group.push(windows[w++]);
    const flat = group.flatMap((win) => [bos, ...win]);
    const la = (await a.step(flat, group.length, null)).logits;
    const lb = (await b.step(flat, group.length, null)).logits;
    for (let r = 0; r < group.length; r++) {
      for (let t = 0; t < len; t++) {
        const row = (r * (len + 1) + t) * V;
        const pa = la.subarray(row, row + V);
        const pb = lb.subarray(row, row + V);
        if (argmax(pa) === argmax(pb)) same++;
        kl += klFromLogits(pa, pb);
        count++;
      }
    }
    opts.onProgress?.(w, windows.length);
  }
  return { top1: same / count, kl: kl / count, positions: count };
}
