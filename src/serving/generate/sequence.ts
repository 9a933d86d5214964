/**
 * @module One sequence's generation state, shared by the single-sequence generator and the continuous
 * batcher so both turn logits into tokens, text, stop strings and logprobs the same way: given the
 * logits row of the next position, pick the token, advance the visible text, and say whether it ends.
 */
import type { FinishReason, GenerateParams, GeneratedToken } from './generator.ts';
import { IncrementalText, type TextDecoder } from './incremental-text.ts';
import { createRng, logProbOf, logSoftmax, sampleToken, topLogprobs } from './sampling.ts';
import { scanStops } from './stop-strings.ts';

/** What one logits row produced: a token to emit (absent for EOS), and the finish reason if it ends. */
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
  }

  /** Consumes the logits `row` [vocab] of the next position. */
  advance(row: Float32Array): SequenceAdvance {
    const { params } = this;
    const id = sampleToken(row, params, this.rng);
    if (params.stopIds.includes(id)) return { finish: 'stop' };
    this.count++;
    const full = this.decoded.push(id);
    // a trailing U+FFFD means an incomplete UTF-8 sequence: wait for its other bytes
    const visible = full.endsWith('\uFFFD') ? full.slice(0, -1) : full;
    const last = this.count >= this.budget;
    const scan = scanStops(visible, this.emitted, params.stop ?? []);
    const end = last && !scan.stopped ? full.length : scan.end;
    // the whole log-softmax row only when alternatives are asked for (V float64s per token otherwise)
    const lp = params.topLogprobs ? logSoftmax(row) : null;
    const top = lp ? topLogprobs(lp, params.topLogprobs!) : undefined;
    const token: GeneratedToken = { id, text: (last ? full : visible).slice(this.emitted, end), logprob: lp ? lp[id] : logProbOf(row, id), top };
    this.emitted = end;
    if (scan.stopped) return { token, finish: 'stop' };
    if (last) return { token, finish: 'length' };
    return { token };
  }
}
