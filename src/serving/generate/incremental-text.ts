/**
 * @module Streaming detokenization in constant time per token: decode only the tokens since the last
 * stable point, with a few earlier tokens as context (leading spaces and UTF-8 bytes depend on them).
 */

/** What decodes ids to text. */
export interface TextDecoder {
  decode(ids: readonly number[]): string;
}

/** Tokens decoded since the last stable point before it moves forward. */
const SPAN = 8;
/** Earlier tokens kept as decoding context. */
const CONTEXT = 4;

/**
 * The text of a growing token sequence.
 * @example const t = new IncrementalText(tok, promptIds); t.push(id) // whole generated text so far
 */
export class IncrementalText {
  private context: number[];
  private contextText: string;
  private pending: number[] = [];
  private stable = '';

  constructor(private readonly decoder: TextDecoder, before: readonly number[]) {
    this.context = before.slice(-CONTEXT);
    this.contextText = decoder.decode(this.context);
  }

  /** Adds a token; returns the whole text after `before` (may end in U+FFFD mid UTF-8 sequence). */
  push(id: number): string {
    this.pending.push(id);
    const piece = this.decoder.decode([...this.context, ...this.pending]).slice(this.contextText.length);
    const text = this.stable + piece;
    if (this.pending.length >= SPAN && !piece.endsWith('\uFFFD')) {
      this.stable = text;
      this.context = [...this.context, ...this.pending].slice(-CONTEXT);
      this.contextText = this.decoder.decode(this.context);
      this.pending = [];
    }
    return text;
  }
}
