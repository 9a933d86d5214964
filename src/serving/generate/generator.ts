/**
 * @module Generation: prefill the prompt, then decode token by token with the KV cache, as an async
 * iterator of text deltas. Knows nothing of the model behind the decoder, only logits and a cache.
 */
import type { DecoderSession } from '../session/backend.ts';
import { createRng, logSoftmax, sampleToken, topLogprobs, type SamplingParams } from './sampling.ts';
import { processesLogits, processLogits, TokenHistory, type LogitsProcessing } from './logits-processors.ts';
import { IncrementalText, type TextDecoder } from './incremental-text.ts';
import { scanStops } from './stop-strings.ts';

/** Parameters of one generation. */
export interface GenerateParams extends SamplingParams, LogitsProcessing {
  maxTokens: number;
  /** PRNG seed; a random one when absent. */
  seed?: number;
  /** Text that ends the generation (not included in the output). */
  stop?: readonly string[];
  /** Token ids that end the generation (EOS; empty with vLLM's `ignore_eos`). Also stop strings wait for `minTokens`. */
  stopIds: readonly number[];
  /** Report this many most likely alternatives per token (0 = none). */
  topLogprobs?: number;
}

/** Why a generation ended. */
export type FinishReason = 'stop' | 'length';

/** One generated token and the text it adds. */
export interface GeneratedToken {
  id: number;
  /** Text newly visible after this token (may be empty while a UTF-8 sequence or stop string is pending). */
  text: string;
  logprob: number;
  /** The most likely tokens at this step, best first, when `topLogprobs` > 0. */
  top?: { id: number; logprob: number }[];
}


/**
 * Generates from `promptIds` (which already hold BOS where wanted). Yields tokens as they come and
 * returns the finish reason. Stops early when `signal` aborts.
 * @example
 * for await (const t of generate(session, tok, tok.encode('Once', { bos: true }), params)) process.stdout.write(t.text);
 */
export async function* generate(
  decoder: DecoderSession,
  text: TextDecoder,
  promptIds: readonly number[],
  params: GenerateParams,
  signal?: AbortSignal,
): AsyncGenerator<GeneratedToken, FinishReason> {
  if (promptIds.length === 0) throw new RangeError('generate needs at least one prompt token (BOS)');
  const rng = createRng(params.seed ?? Math.floor(Math.random() * 2 ** 32));
  const stops = params.stop ?? [];
  const decoded = new IncrementalText(text, promptIds);
  let count = 0;
  let emitted = 0;
  const budget = Math.min(params.maxTokens, decoder.maxPositions - promptIds.length);
  if (budget <= 0) return 'length';

  const processing = processesLogits(params);
  const seen = new TokenHistory(promptIds);
  let step = await decoder.step(promptIds, 1, null, 1, promptIds.length + budget);
  for (;;) {
    if (signal?.aborted) return 'stop';
    const row = step.logits.subarray(step.logits.length - decoder.vocabSize);
    const id = sampleToken(processing ? processLogits(row, params, seen, params.stopIds) : row, params, rng);
    if (params.stopIds.includes(id)) {
      // as vLLM: the stop token is an output token (its logprob reported, counted in usage), with no text
      const lp = logSoftmax(row);
      yield { id, text: '', logprob: lp[id], top: params.topLogprobs ? topLogprobs(lp, params.topLogprobs) : undefined };
      return 'stop';
    }
    count++;
    seen.push(id);
    const full = decoded.push(id);
    // a trailing U+FFFD means an incomplete UTF-8 sequence: wait for its other bytes
    const visible = full.endsWith('\uFFFD') ? full.slice(0, -1) : full;
    const last = count >= budget;
    const scan = count >= (params.minTokens ?? 0) ? scanStops(visible, emitted, stops) : { end: visible.length, stopped: false };
    const end = last && !scan.stopped ? full.length : scan.end;
    const lp = logSoftmax(row);
    const top = params.topLogprobs ? topLogprobs(lp, params.topLogprobs) : undefined;
    yield { id, text: (last ? full : visible).slice(emitted, end), logprob: lp[id], top };
    emitted = end;
    if (scan.stopped) return 'stop';
    if (last) return 'length';
    step = await decoder.step([id], 1, step.cache);
  }
}
