/**
 * @module A cache-less DecoderSession that runs a model block by block (one onnxruntime session per
 * block, final norm and LM head in JS). It accepts layers of different widths, so the unpruned
 * flattened model of the `--no-prune` ablation can be scored with the same `perplexity()` as any other.
 */
import { InvalidRequest } from '../errors.ts';
import type { LlamaModel } from '../model/types.ts';
import type { DecoderSession, DecoderStep, SessionOptions } from '../serving/session/backend.ts';
import { blockShape, createBlockSession, type BlockSession } from './block-session.ts';
import { embedRows, headLogits } from './tensor-ops.ts';

/**
 * A decoder over `model` whose `step` only runs from scratch (cache must be null).
 * @example const d = await createChainDecoder(wideModel, { threads: 2 }); await perplexity(d, ids, { seq: 255, bos: 1 });
 */
export async function createChainDecoder(model: LlamaModel, opts: SessionOptions = {}): Promise<DecoderSession> {
  const shape = blockShape(model.config);
  const blocks: BlockSession[] = [];
  for (const layer of model.layers) blocks.push(await createBlockSession(layer, shape, opts));
  const cfg = model.config;
  async function step(ids: readonly number[], batch: number, cache: unknown, logitsToKeep?: number): Promise<DecoderStep> {
    if (cache) throw new InvalidRequest('this decoder runs without a KV cache');
    const seq = ids.length / batch;
    if (!Number.isInteger(seq) || seq < 1) throw new InvalidRequest(`${ids.length} token ids do not split into ${batch} equal rows`);
    if (seq > cfg.maxPositions) throw new InvalidRequest(`${seq} tokens exceed the model's context of ${cfg.maxPositions}`, 'prompt');
    let hidden = embedRows(model.embed, ids);
    const states = [hidden];
    for (const b of blocks) {
      hidden = (await b.run(hidden, batch, seq, ['output'])).output!;
      states.push(hidden);
    }
    const keep = Math.min(seq, Math.max(1, logitsToKeep ?? seq));
    return { logits: headLogits(model, hidden, batch, seq, keep), logitsLength: keep, cache: { batch, length: seq }, hidden: states };
  }
  return {
    provider: blocks[0]?.provider ?? 'cpu',
    vocabSize: cfg.vocabSize,
    maxPositions: cfg.maxPositions,
    numLayers: model.layers.length,
    step,
    async release() {
      for (const b of blocks) await b.release();
    },
  };
}
