/**
 * @module vLLM's logits processors over one logits row, before sampling: min_tokens (stop ids masked
 * until enough tokens are out), logit_bias (added), then the repetition, frequency and presence
 * penalties of `vllm.model_executor.layers.utils.apply_penalties`. Pure functions; the reported
 * logprobs stay those of the raw row, as vLLM's default `logprobs_mode` reports them.
 */

/** What the processors need; every field is optional and off when absent. */
export interface LogitsProcessing {
  /** > 1 discourages, < 1 encourages any token seen in the prompt or output (1 = off). */
  repetitionPenalty?: number;
  /** Subtracted once per time a token occurs in the output. */
  frequencyPenalty?: number;
  /** Subtracted once if a token occurs in the output at all. */
  presencePenalty?: number;
  /** Token id -> value added to its logit. */
  logitBias?: ReadonlyMap<number, number>;
  /** Until this many tokens are out, `stopIds` cannot be drawn. */
  minTokens?: number;
}

/** Whether any processor changes the row. */
export function processesLogits(p: LogitsProcessing): boolean {
  return (
    (p.repetitionPenalty ?? 1) !== 1 ||
    (p.frequencyPenalty ?? 0) !== 0 ||
    (p.presencePenalty ?? 0) !== 0 ||
    (p.logitBias?.size ?? 0) > 0 ||
    (p.minTokens ?? 0) > 0
  );
}

/** Tokens seen so far: the prompt's set and the output's counts. */
export class TokenHistory {
  readonly prompt: Set<number>;
  readonly output = new Map<number, number>();
  length = 0;
  constructor(promptIds: readonly number[]) {
    this.prompt = new Set(promptIds);
  }
  push(id: number): void {
    this.output.set(id, (this.output.get(id) ?? 0) + 1);
    this.length++;
  }
}

/**
 * The processed copy of `row` (float64).
 * repetition: logit / r where logit > 0, logit * r otherwise, for tokens of prompt or output;
 * frequency/presence: logit - f * count - p * [count > 0], for tokens of the output.
 * @example processLogits(row, { repetitionPenalty: 1.3 }, history, [eosId])
 */
export function processLogits(row: ArrayLike<number>, p: LogitsProcessing, seen: TokenHistory, stopIds: readonly number[]): Float64Array {
  const out = Float64Array.from(row);
  if (seen.length < (p.minTokens ?? 0)) for (const id of stopIds) if (id < out.length) out[id] = -Infinity;
  if (p.logitBias) for (const [id, bias] of p.logitBias) if (id < out.length) out[id] += bias;
  const r = p.repetitionPenalty ?? 1;
  if (r !== 1) {
    const penalise = (id: number) => (out[id] = out[id] > 0 ? out[id] / r : out[id] * r);
    for (const id of seen.prompt) if (id < out.length) penalise(id);
    for (const id of seen.output.keys()) if (id < out.length && !seen.prompt.has(id)) penalise(id);
  }
  const f = p.frequencyPenalty ?? 0;
  const pr = p.presencePenalty ?? 0;
  if (f !== 0 || pr !== 0) for (const [id, count] of seen.output) if (id < out.length) out[id] -= f * count + pr;
  return out;
}
