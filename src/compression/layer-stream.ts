/**
 * @module Forward passes that hold one block in the engine at a time: every batch of token sequences
 * goes through block 0, then all of them through block 1, and so on, keeping one activation per batch
 * between blocks. Memory: the activations (tokens x D floats) plus one block, never a whole-model
 * session, so statistics and evaluation of a model cost little beyond its weights.
 */
import { InvalidRequest } from '../errors.ts';
import type { LlamaModel } from '../model/types.ts';
import { buildHeadGraph } from '../serving/graph/block-graph.ts';
import type { DecoderSession, DecoderStep, SessionOptions } from '../serving/session/backend.ts';
import { createGraphSession } from '../serving/session/local-backend.ts';
import { blockShape, createBlockSession } from './block-session.ts';
import { embedRows } from './tensor-ops.ts';

/** Token sequences of one batch: `batch` rows of `seq` ids, row-major. */
export interface TokenBatch {
  ids: readonly number[];
  batch: number;
  seq: number;
}

/**
 * Streams `batches` through the blocks of `model`. `onLayer(l, hidden)` sees the input of block l of
 * every batch ([batch, seq, D] each), and l = L the final residual (before the final norm), which is
 * also returned.
 * @example const finals = await streamLayers(model, batches, { threads: 2, onLayer: (l, h) => keep(l, h) });
 */
export async function streamLayers(
  model: LlamaModel,
  batches: readonly TokenBatch[],
  opts: SessionOptions & { onLayer?: (layer: number, hidden: Float32Array[]) => void | Promise<void>; onBlock?: (done: number, total: number) => void } = {},
): Promise<{ hidden: Float32Array[]; provider: 'cuda' | 'cpu' }> {
  let hidden = batches.map((b) => embedRows(model.embed, b.ids));
  let provider: 'cuda' | 'cpu' = 'cpu';
  const shape = blockShape(model.config);
  for (const [l, layer] of model.layers.entries()) {
    await opts.onLayer?.(l, hidden);
    const block = await createBlockSession(layer, shape, opts);
    provider = block.provider;
    try {
      const next: Float32Array[] = [];
      for (const [i, b] of batches.entries()) next.push((await block.run(hidden[i], b.batch, b.seq, ['output'])).output!);
      hidden = next;
    } finally {
      await block.release();
    }
    opts.onBlock?.(l + 1, model.layers.length);
  }
  await opts.onLayer?.(model.layers.length, hidden);
  return { hidden, provider };
}

/**
 * A cache-less decoder over `model` that answers `step` for exactly the given `batches` (same ids, same
 * batch size), in any order: they are streamed layer by layer up front, then each step runs only the
 * final norm and LM head. For perplexity and agreement over a known set of windows.
 * @example const d = await createStreamedDecoder(model, windows, { threads: 2 }); await perplexity(d, ids, { seq, bos, batch: 1 });
 */
export async function createStreamedDecoder(model: LlamaModel, batches: readonly TokenBatch[], opts: SessionOptions = {}): Promise<DecoderSession> {
  const cfg = model.config;
  const key = (ids: readonly number[], batch: number) => `${batch}:${ids.join(',')}`;
  const { hidden, provider } = await streamLayers(model, batches, opts);
  const finals = new Map(batches.map((b, i) => [key(b.ids, b.batch), hidden[i]]));
  const head = await createGraphSession(buildHeadGraph(model.norm, model.lmHead ?? model.embed, cfg.rmsNormEps), opts);
  async function step(ids: readonly number[], batch: number, cache: unknown, logitsToKeep?: number): Promise<DecoderStep> {
    if (cache) throw new InvalidRequest('this decoder runs without a KV cache');
    const h = finals.get(key(ids, batch));
    if (!h) throw new Error('createStreamedDecoder: step asked for a batch that was not streamed (internal error)');
    const seq = ids.length / batch;
    const keep = Math.min(seq, Math.max(1, logitsToKeep ?? seq));
    const D = cfg.hiddenSize;
    let rows = h;
    if (keep < seq) {
      rows = new Float32Array(batch * keep * D);
      for (let b = 0; b < batch; b++) rows.set(h.subarray((b * seq + seq - keep) * D, (b + 1) * seq * D), b * keep * D);
    }
    const { logits } = await head.run({ hidden: { data: rows, dims: [batch * keep, D] } });
    return { logits: logits.data as Float32Array, logitsLength: keep, cache: { batch, length: seq } };
  }
  return {
    provider,
    vocabSize: cfg.vocabSize,
    maxPositions: cfg.maxPositions,
    numLayers: model.layers.length,
    step,
    release: () => head.release(),
  };
}
