/**
 * @module Token logprobs one streamed token at a time, in vLLM's chunk shapes: completions get
 * `{tokens, token_logprobs, top_logprobs, text_offset}` for the chunk's token, chat gets
 * `{content: [{token, logprob, bytes, top_logprobs}]}`.
 */
import type { Tokenizer } from '../model/types.ts';
import type { CompletionDelta } from '../serving/completion.ts';
import { chatLogprobs, completionLogprobs } from './run-choices.ts';

/**
 * Follows one choice's tokens so each piece is decoded in its context and offsets keep counting.
 * @example const lp = new LogprobStream(tok, promptIds, 0); chunk.logprobs = lp.completion(delta);
 */
export class LogprobStream {
  private readonly ids: number[];
  constructor(
    private readonly tokenizer: Tokenizer,
    promptIds: readonly number[],
    private offset = 0,
  ) {
    this.ids = [...promptIds];
  }

  /** The completions `logprobs` of one token. */
  completion(d: CompletionDelta) {
    const lp = completionLogprobs(this.tokenizer, this.ids, [d], this.offset);
    this.offset += lp.tokens[0].length;
    this.ids.push(d.tokenId);
    return lp;
  }

  /** The chat `logprobs` of one token. */
  chat(d: CompletionDelta) {
    const lp = chatLogprobs(this.tokenizer, this.ids, [d]);
    this.ids.push(d.tokenId);
    return lp;
  }
}
