/**
 * @module Generation: prefill the prompt, then decode token by token with the KV cache, as an async
 * iterator of text deltas. Knows nothing of the model behind the decoder, only logits and a cache.
 */
import type { DecoderSession } from '../session/backend.ts';
import type { SamplingParams } from './sampling.ts';
import type { LogitsProcessing } from './logits-processors.ts';
import type { TextDecoder } from './incremental-text.ts';
import { SequenceState } from './sequence.ts';

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
  /**
   * Report each token's log-probability (default true). Off, no token scans its logits row for it: the
   * serving routes turn it off when the request asked for no logprobs.
   */
  logprobs?: boolean;
}

/** Why a generation ended. */
export type FinishReason = 'stop' | 'length';

/** One generated token and the text it adds. */
export interface GeneratedToken {
  id: number;
  /** Text newly visible after this token (may be empty while a UTF-8 sequence or stop string is pending). */
  text: string;
  /** Absent when the generation's `logprobs` is off. */
  logprob?: number;
  /** The most likely tokens at this step, best first, when `topLogprobs` > 0. */
  top?: { id: number; logprob: number }[];
}


/**
 * Generates from `promptIds` (which already hold BOS where wanted), one sequence alone. Yields tokens as
 * they come and returns the finish reason. Stops early when `signal` aborts.
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
  const seq = new SequenceState(text, promptIds, params, decoder.maxPositions);
  if (seq.budget <= 0) return 'length';
  let step = await decoder.step(promptIds, 1, null, 1, promptIds.length + seq.budget);
  for (;;) {
    if (signal?.aborted) return 'stop';
    const { token, finish } = seq.advance(step.logits.subarray(step.logits.length - decoder.vocabSize));
    if (token) yield token;
    if (finish) return finish;
    step = await decoder.step([token!.id], 1, step.cache);
  }
}
