/**
 * @module Continuous batching for one decoder: concurrent generations share decode steps (one engine run
 * for every active sequence, each at its own position), new ones join between steps after a prefill of
 * their own, finished or abandoned ones leave at once. Each sequence keeps its own sampling state
 * (`SequenceState`), so its output is what it would be alone. Knows nothing of the model behind the decoder.
 */
import type { DecoderBatch, DecoderSession } from '../session/backend.ts';
import type { FinishReason, GenerateParams, GeneratedToken } from './generator.ts';
import type { TextDecoder } from './incremental-text.ts';
import { SequenceState } from './sequence.ts';

/** One generation in the batcher, and the mailbox its consumer reads. */
interface Sequence {
  state: SequenceState;
  signal?: AbortSignal;
  /** The consumer went away (or the signal aborted): leave at the next chance. */
  abandoned: boolean;
  lastId: number;
  tokens: GeneratedToken[];
  finish: FinishReason | null;
  error: unknown;
  wake: (() => void) | null;
}

/**
 * Batches the generations on `decoder`, at most `maxRows` at a time (more wait for a free row).
 * @example
 * const b = new ContinuousBatcher(session, 4);
 * for await (const t of b.generate(tok, ids, params, signal)) write(t.text);
 */
export class ContinuousBatcher {
  private readonly batch: DecoderBatch;
  private readonly pending: Sequence[] = [];
  /** Active sequences; `active[r]` decodes in batch row r. */
  private readonly active: Sequence[] = [];
  private loop: Promise<void> | null = null;

  constructor(
    private readonly decoder: DecoderSession,
    readonly maxRows: number,
  ) {
    if (!decoder.openBatch) throw new Error('this decoder cannot batch sequences');
    this.batch = decoder.openBatch(maxRows);
  }

  /** Sequences decoding now and waiting for a row. */
  get load(): { active: number; pending: number; kvBytes: number } {
    return { active: this.active.length, pending: this.pending.length, kvBytes: this.batch.kvBytes };
  }

  /** Resolves when no step is in flight and no sequence is left. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /**
   * Generates from `promptIds` in the batch: yields tokens as they come, returns the finish reason.
   * Breaking out of the iteration, or aborting `signal`, takes the sequence out of the batch.
   */
  async *generate(text: TextDecoder, promptIds: readonly number[], params: GenerateParams, signal?: AbortSignal): AsyncGenerator<GeneratedToken, FinishReason> {
    const state = new SequenceState(text, promptIds, params, this.decoder.maxPositions);
    if (state.budget <= 0) return 'length';
    const seq: Sequence = { state, signal, abandoned: false, lastId: -1, tokens: [], finish: null, error: null, wake: null };
    const onAbort = () => this.abandon(seq);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.pending.push(seq);
    this.loop ??= this.run();
    try {
      for (;;) {
        while (seq.tokens.length) yield seq.tokens.shift()!;
        if (seq.error) throw seq.error;
        if (seq.finish) return seq.finish;
        await new Promise<void>((resolve) => (seq.wake = resolve));
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.abandon(seq);
    }
  }

  private abandon(seq: Sequence): void {
    if (seq.finish || seq.error) return;
    seq.abandoned = true;
    const i = this.pending.indexOf(seq);
    if (i >= 0) {
      this.pending.splice(i, 1);
      this.end(seq, 'stop');
    }
  }

  private end(seq: Sequence, finish: FinishReason | null, error: unknown = null): void {
    seq.finish ??= finish;
    seq.error = error;
    seq.wake?.();
  }

  /** Turns row logits into the sequence's next token, as the single-sequence generator does. */
  private advance(seq: Sequence, row: Float32Array): void {
    if (seq.abandoned || seq.signal?.aborted) return this.end(seq, 'stop');
    const { token, finish } = seq.state.advance(row);
    if (token) {
      seq.lastId = token.id;
      seq.tokens.push(token);
    }
    if (finish) this.end(seq, finish);
    else seq.wake?.();
  }

  /** Takes finished and abandoned sequences out of their rows (the last row moves into a freed one). */
  private sweep(): void {
    for (let r = this.active.length - 1; r >= 0; r--) {
      const seq = this.active[r];
      if (!seq.finish && !seq.error && !seq.abandoned) continue;
      if (seq.abandoned) this.end(seq, 'stop');
      this.batch.leave(r);
      const last = this.active.pop()!;
      if (r < this.active.length) this.active[r] = last;
    }
  }

  private async run(): Promise<void> {
    try {
      while (this.pending.length || this.active.length) {
        while (this.pending.length && this.active.length < this.maxRows) {
          const seq = this.pending.shift()!;
          try {
            const row = await this.batch.join(seq.state.promptIds, seq.state.promptIds.length + seq.state.budget);
            this.active.push(seq);
            this.advance(seq, row);
          } catch (err) {
            this.end(seq, null, err);
          }
          this.sweep();
        }
        if (!this.active.length) continue;
        let logits: Float32Array;
        try {
          logits = await this.batch.step(this.active.map((s) => s.lastId));
        } catch (err) {
          for (const seq of this.active) this.end(seq, null, err);
          this.sweep();
          continue;
        }
        const V = this.decoder.vocabSize;
        this.active.forEach((seq, r) => this.advance(seq, logits.subarray(r * V, (r + 1) * V)));
        this.sweep();
      }
    } finally {
      this.loop = null;
    }
  }
}
