/**
 * @module Token sampling: greedy, temperature, top-k and top-p (nucleus), with a seeded PRNG so that a
 * fixed seed reproduces a completion. Pure functions over a logits row.
 */

/** Sampling parameters. `temperature: 0` is greedy. */
export interface SamplingParams {
  temperature: number;
  /** Keep the smallest set of tokens whose probability mass reaches topP (1 = off). */
  topP: number;
  /** Keep the k most likely tokens (0 = off). */
  topK: number;
}

/** A PRNG returning floats in [0, 1): mulberry32 seeded with a 32-bit integer. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index of the largest value (lowest index on ties). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** log softmax of a logits row, computed in float64. */
export function logSoftmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i] - lse;
  return out;
}

/** log softmax of one entry of a logits row: the same float64 arithmetic as `logSoftmax(row)[id]`, without the array. */
export function logProbOf(row: ArrayLike<number>, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  return row[id] - (max + Math.log(sum));
}

/**
 * Draws the next token from one logits row.
 * @example sampleToken(logits, { temperature: 0.8, topP: 0.95, topK: 40 }, createRng(42))
 */
export function sampleToken(row: ArrayLike<number>, params: SamplingParams, rng: () => number): number {
  if (params.temperature <= 0) return argmax(row);
  const n = row.length;
  let ids = Array.from({ length: n }, (_, i) => i);
  const scaled = Float64Array.from(row, (x) => x / params.temperature);
  if ((params.topK > 0 && params.topK < n) || params.topP < 1) {
    ids.sort((a, b) => scaled[b] - scaled[a] || a - b);
    if (params.topK > 0 && params.topK < n) ids = ids.slice(0, params.topK);
  }
  let max = -Infinity;
  for (const i of ids) if (scaled[i] > max) max = scaled[i];
  const probs = ids.map((i) => Math.exp(scaled[i] - max));
  let total = probs.reduce((s, p) => s + p, 0);
  if (params.topP < 1) {
    // ids are sorted by probability here: keep the shortest prefix reaching topP of the mass
    let acc = 0;
    let cut = probs.length;
    for (let j = 0; j < probs.length; j++) {
      acc += probs[j] / total;
      if (acc >= params.topP) {
        cut = j + 1;
        break;
      }
    }
    ids = ids.slice(0, cut);
    probs.length = cut;
    total = probs.reduce((s, p) => s + p, 0);
  }
  let r = rng() * total;
  for (let j = 0; j < ids.length; j++) {
    r -= probs[j];
    if (r <= 0) return ids[j];
  }
  return ids[ids.length - 1];
}

/** The k largest log-probabilities with their ids, best first (lowest id on ties). */
export function topLogprobs(lp: ArrayLike<number>, k: number): { id: number; logprob: number }[] {
  const best: { id: number; logprob: number }[] = [];
  for (let i = 0; i < lp.length; i++) {
    if (best.length === k && lp[i] <= best[k - 1].logprob) continue;
    let j = best.length;
    while (j > 0 && best[j - 1].logprob < lp[i]) j--;
    best.splice(j, 0, { id: i, logprob: lp[i] });
    if (best.length > k) best.pop();
  }
  return best;
}
