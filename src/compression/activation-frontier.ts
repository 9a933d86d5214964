/**
 * @module The calibration activations at the top of the already-compressed prefix of a model
 * (flattengpt.md section 3: the input of a group is the output of the compressed blocks below it).
 * Two modes: `recompute` streams every batch from the embeddings through the prefix's blocks each time
 * (memory: one batch plus the blocks), `memory` keeps the activations of every sample (samples x seq x D
 * floats) and advances them once per new block, which is much faster for small models.
 */
import type { LayerWeights, LlamaModel } from '../model/types.ts';
import type { SessionOptions } from '../serving/session/backend.ts';
import { blockShape, createBlockSession, type BlockSession } from './block-session.ts';
import { calibrationBatches, defaultBatchSize, type CalibrationBatch, type CalibrationSet } from './calibration.ts';
import { embedRows } from './tensor-ops.ts';

/** Options of {@link ActivationFrontier}. */
export interface FrontierOptions extends SessionOptions {
  /** Samples per batch (default: {@link defaultBatchSize} of the calibration length). */
  batchSize?: number;
  /** Keep all activations in memory (default: when they take at most `memoryLimitBytes`). */
  cache?: boolean;
  /** Budget for the `memory` mode when `cache` is not given (default 512 MiB). */
  memoryLimitBytes?: number;
}

/** Streams the inputs of the next block to compress, for every calibration batch. */
export class ActivationFrontier {
  private readonly batches: CalibrationBatch[];
  private readonly cached: Float32Array[] | null;
  private readonly prefix: BlockSession[] = [];
  private pending: LayerWeights[] = [];
  private depth = 0;

  constructor(
    private readonly model: LlamaModel,
    calib: CalibrationSet,
    private readonly opts: FrontierOptions = {},
  ) {
    this.batches = calibrationBatches(calib, opts.batchSize ?? defaultBatchSize(calib.seq));
    const bytes = calib.samples.length * calib.seq * model.config.hiddenSize * 4;
    const useMemory = opts.cache ?? bytes <= (opts.memoryLimitBytes ?? 512 * 2 ** 20);
    this.cached = useMemory ? this.batches.map((b) => embedRows(model.embed, b.ids)) : null;
  }

  /** `memory` or `recompute`. */
  get mode(): 'memory' | 'recompute' {
    return this.cached ? 'memory' : 'recompute';
  }

  /** Number of calibration batches. */
  get batchCount(): number {
    return this.batches.length;
  }

  /** Number of blocks below the frontier (pushed ones included). */
  get layers(): number {
    return this.depth + this.pending.length;
  }

  /** Puts `layers` on top of the prefix; they run lazily, when the next batches are read. */
  push(layers: readonly LayerWeights[]): void {
    this.pending.push(...layers);
  }

  /** Calls `fn` with the frontier activations ([batch, seq, D]) of every calibration batch, in order. */
  async forEach(fn: (hidden: Float32Array, batch: CalibrationBatch) => Promise<void>): Promise<void> {
    await this.flush();
    for (let i = 0; i < this.batches.length; i++) {
      const b = this.batches[i];
      let hidden = this.cached ? this.cached[i] : embedRows(this.model.embed, b.ids);
      if (!this.cached) for (const s of this.prefix) hidden = (await s.run(hidden, b.batch, b.seq, ['output'])).output!;
      await fn(hidden, b);
    }
  }

  private async flush(): Promise<void> {
    const shape = blockShape(this.model.config);
    for (const layer of this.pending) {
      const s = await createBlockSession(layer, shape, this.opts);
      if (this.cached) {
        for (let i = 0; i < this.batches.length; i++) {
          const b = this.batches[i];
          this.cached[i] = (await s.run(this.cached[i], b.batch, b.seq, ['output'])).output!;
        }
        await s.release();
      } else {
        this.prefix.push(s);
      }
      this.depth++;
    }
    this.pending = [];
  }

  /** Releases the prefix's sessions. */
  async release(): Promise<void> {
    for (const s of this.prefix) await s.release();
    this.prefix.length = 0;
  }
}
