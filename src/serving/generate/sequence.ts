/**
 * @module One sequence's generation state, shared by the single-sequence generator and the continuous
 * batcher so both turn logits into tokens, text, stop strings and logprobs the same way: given the
 * logits row of the next position, pick the token, advance the visible text, and say whether it ends.
 */
import type { FinishReason, GenerateParams, GeneratedToken } from './generator.ts';
import { IncrementalText, type TextDecoder } from './incremental-text.ts';
import { processesLogits, processLogits, TokenHistory } from './logits-processors.ts';
import { createRng, logProbOf, logSoftmax, sampleToken, topLogprobs } from './sampling.ts';
import { scanStops } from './stop-strings.ts';

/** What one logits row produced: a token to emit (EOS too, with no text), and the finish reason if it ends. */
export interface SequenceAdvance {
  token?: GeneratedToken;
  finish?: FinishReason;
}

/**
 * The state of one generation.
 * @example const s = new SequenceState(tok, ids, params, 2048); const { token, finish } = s.advance(row);
 */
export class SequenceState {
  /** Tokens this sequence may generate (max_tokens, cut to the context). */
  readonly budget: number;
  private readonly rng: () => number;
  private readonly decoded: IncrementalText;
  private count = 0;
  private emitted = 0;
  /** vLLM's logits processors (penalties, logit_bias, min_tokens), applied only when some are asked for. */
  private readonly processing: boolean;
  private readonly seen: TokenHistory;

  constructor(
    text: TextDecoder,
    readonly promptIds: readonly number[],
    private readonly params: GenerateParams,
    maxPositions: number,
  ) {
    if (promptIds.length === 0) throw new RangeError('generate needs at least one prompt token (BOS)');
    this.rng = createRng(params.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.decoded = new IncrementalText(text, promptIds);
    this.budget = Math.min(params.maxTokens, maxPositions - promptIds.length);
    this.processing = processesLogits(params);
    this.seen = new TokenHistory(promptIds);
  }

  /** Consumes the logits `row` [vocab] of the next position. */
  advance(row: Float32Array): SequenceAdvance {
    const { params } = this;
    const id = sampleToken(this.processing ? processLogits(row, params, this.seen, params.stopIds) : row, params, this.rng);
    // the whole log-softmax row only when alternatives are asked for (V float64s per token otherwise);
    // logprobs are the model's own, before the processors (vLLM's default)
    const lpOf = () => (params.topLogprobs ? logSoftmax(row) : null);
    const logprobOf = (lp: Float64Array | null) => (lp ? lp[id] : params.logprobs === false ? undefined : logProbOf(row, id));
    if (params.stopIds.includes(id)) {
      // as vLLM: the stop token is an output token (its logprob reported, counted in usage), with no text
      const lp = lpOf();
      return { token: { id, text: '', logprob: logprobOf(lp), top: lp ? topLogprobs(lp, params.topLogprobs!) : undefined }, finish: 'stop' };
    }
    this.count++;
    this.seen.push(id);
    const full = this.decoded.push(id);
    // a trailing U+FFFD means an incomplete UTF-8 sequence: wait for its other bytes
    const visible = full.endsWith('\uFFFD') ? full.slice(0, -1) : full;
    const last = this.count >= this.budget;
    // stop strings, like EOS, wait for min_tokens
    const scan = this.count >= (params.minTokens ?? 0) ? scanStops(visible, this.emitted, params.stop ?? []) : { end: visible.length, stopped: false };
    const end = last && !scan.stopped ? full.length : scan.end;
    const lp = lpOf();
    const top = lp ? topLogprobs(lp, params.topLogprobs!) : undefined;
    const token: GeneratedToken = { id, text: (last ? full : visible).slice(this.emitted, end), logprob: logprobOf(lp), top };
    this.emitted = end;
    if (scan.stopped) return { token, finish: 'stop' };
    if (last) return { token, finish: 'length' };
    return { token };
  }
}
