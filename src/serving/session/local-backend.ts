/**
 * @module The one module that imports onnxruntime-node. Creates sessions from serialized graphs (weights
 * passed as in-memory external data), prefers the CUDA execution provider when asked and present, and
 * falls back to the CPU provider.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InvalidRequest } from '../../errors.ts';
import type { LlamaModel } from '../../model/types.ts';
import type { SerializedModel } from '../graph/builder.ts';
import { buildDecoderGraph } from '../graph/llama.ts';
import type { DecoderSession, DecoderStep, GraphSession, HostTensor, KvCache, SessionOptions } from './backend.ts';
import { openDecoderBatch, type OrtKvCache } from './decoder-batch.ts';

type Provider = 'cuda' | 'cpu';

/**
 * Whether onnxruntime-node's CUDA provider library is installed (its install script fetches it on GPU
 * machines; offline installs skip it). Trying CUDA without it only logs a loader error.
 */
export function cudaProviderInstalled(): boolean {
  const binding = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
  return existsSync(join(binding, 'libonnxruntime_providers_cuda.so'));
}

/** Creates an onnxruntime session, trying CUDA first unless the CPU was asked for. */
async function createOrtSession(graph: SerializedModel, opts: SessionOptions): Promise<{ session: ort.InferenceSession; provider: Provider }> {
  const { model, externalData } = graph.session;
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: opts.threads ?? cpus().length,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: opts.spinning ? '1' : '0' } } },
    logSeverityLevel: 3,
    ...(externalData.length ? { externalData } : {}),
  };
  const pref = opts.provider ?? 'auto';
  if (pref === 'cuda' || (pref === 'auto' && cudaProviderInstalled())) {
    try {
      const session = await ort.InferenceSession.create(model, { ...base, executionProviders: ['cuda', 'cpu'] });
      return { session, provider: 'cuda' };
    } catch (err) {
      if (pref === 'cuda') throw new InvalidRequest(`The CUDA execution provider is not available here: ${(err as Error).message}`);
    }
  }
  const session = await ort.InferenceSession.create(model, { ...base, executionProviders: ['cpu'] });
  return { session, provider: 'cpu' };
}

function toOrt(t: HostTensor): ort.Tensor {
  if (t.data instanceof Float32Array) return new ort.Tensor('float32', t.data, t.dims);
  if (t.data instanceof Float64Array) return new ort.Tensor('float64', t.data, t.dims);
  if (t.data instanceof BigInt64Array) return new ort.Tensor('int64', t.data, t.dims);
  return new ort.Tensor('int32', t.data, t.dims);
}

function fromOrt(t: ort.Tensor): HostTensor {
  return { data: t.data as HostTensor['data'], dims: [...t.dims] };
}

/**
 * A session over any serialized graph (used for calibration statistics and large products).
 * @example
 * const s = await createGraphSession(g.serialize('x.data'), { provider: 'auto' });
 * const { y } = await s.run({ x: { data, dims: [2, 3] } });
 */
export async function createGraphSession(graph: SerializedModel, opts: SessionOptions = {}): Promise<GraphSession> {
  const { session, provider } = await createOrtSession(graph, opts);
  return {
    provider,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, outputs) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
      const res = outputs ? await session.run(ortFeeds, outputs as string[]) : await session.run(ortFeeds);
      const out: Record<string, HostTensor> = {};
      for (const [k, v] of Object.entries(res)) out[k] = fromOrt(v);
      return out;
    },
    release: () => session.release(),
  };
}

/*
 * The KV cache (OrtKvCache): one key and one value buffer per layer, [batch, kvHeads, capacity, headDim].
 * Each step passes the same buffer as past input and as present output, so GroupQueryAttention appends
 * the new positions in place (shared-buffer mode) instead of copying the whole cache out and back every
 * token. A cache is consumed by the step it is passed to: use the cache that step returns.
 */

/**
 * A decoder session for `model`, built from our exported graph (with `num_logits_to_keep`).
 * Each call to `step` has its own cache, so concurrent sequences never share state.
 */
export async function createDecoderSession(
  model: LlamaModel,
  opts: SessionOptions & { hiddenStates?: boolean } = {},
): Promise<DecoderSession> {
  const graph = buildDecoderGraph(model, { hiddenStates: opts.hiddenStates, logitsToKeepInput: true });
  const { session, provider } = await createOrtSession(graph, opts);
  const cfg = model.config;
  const L = model.layers.length;
  const rowSize = cfg.numKvHeads * cfg.headDim;

  const allocate = (batch: number, capacity: number, length: number): OrtKvCache => ({
    batch,
    length,
    capacity,
    keys: Array.from({ length: L }, () => new Float32Array(batch * rowSize * capacity)),
    values: Array.from({ length: L }, () => new Float32Array(batch * rowSize * capacity)),
    consumed: false,
  });

  /** A larger cache holding the same positions (each [batch, head] block keeps its first `length` rows). */
  const grow = (c: OrtKvCache, capacity: number): OrtKvCache => {
    const next = allocate(c.batch, capacity, c.length);
    const block = c.length * cfg.headDim;
    for (let l = 0; l < L; l++) {
      for (let bh = 0; bh < c.batch * cfg.numKvHeads; bh++) {
        const from = bh * c.capacity * cfg.headDim;
        const to = bh * capacity * cfg.headDim;
        next.keys[l].set(c.keys[l].subarray(from, from + block), to);
        next.values[l].set(c.values[l].subarray(from, from + block), to);
      }
    }
    return next;
  };

  async function step(ids: readonly number[], batch: number, cache: KvCache | null, logitsToKeep?: number, capacity?: number): Promise<DecoderStep> {
    const seq = ids.length / batch;
    if (!Number.isInteger(seq) || seq < 1) throw new InvalidRequest(`${ids.length} token ids do not split into ${batch} equal rows`);
    const past = cache as OrtKvCache | null;
    if (past && past.batch !== batch) throw new InvalidRequest('cache batch size differs from the input batch size');
    if (past?.consumed) throw new InvalidRequest('this KV cache was already used by a step: pass the cache that step returned');
    const pastLen = past?.length ?? 0;
    const total = pastLen + seq;
    if (total > cfg.maxPositions) {
      throw new InvalidRequest(`${total} tokens exceed the model's context of ${cfg.maxPositions}`, 'prompt');
    }
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) throw new InvalidRequest(`token id ${id} is outside the vocabulary`);
    }
    let kv: OrtKvCache;
    if (!past) kv = allocate(batch, Math.min(cfg.maxPositions, Math.max(total, capacity ?? total)), 0);
    else if (total > past.capacity) kv = grow(past, Math.min(cfg.maxPositions, Math.max(total, 2 * past.capacity)));
    else kv = past;
    if (past) past.consumed = true;

    const positions = new BigInt64Array(batch * seq);
    for (let b = 0; b < batch; b++) for (let s = 0; s < seq; s++) positions[b * seq + s] = BigInt(pastLen + s);
    const keep = Math.min(seq, Math.max(1, logitsToKeep ?? seq));
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (x) => BigInt(x)), [batch, seq]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(batch * total).fill(1n), [batch, total]),
      position_ids: new ort.Tensor('int64', positions, [batch, seq]),
      num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(keep)), [1]),
    };
    const fetches: Record<string, ort.Tensor | null> = { logits: null };
    const dims = [batch, cfg.numKvHeads, kv.capacity, cfg.headDim];
    for (let l = 0; l < L; l++) {
      const key = new ort.Tensor('float32', kv.keys[l], dims);
      const value = new ort.Tensor('float32', kv.values[l], dims);
      feeds[`past_key_values.${l}.key`] = key;
      feeds[`past_key_values.${l}.value`] = value;
      fetches[`present.${l}.key`] = key;
      fetches[`present.${l}.value`] = value;
    }
    if (opts.hiddenStates) for (let l = 0; l <= L; l++) fetches[`hidden_states.${l}`] = null;
    const out = await session.run(feeds, fetches as ort.InferenceSession.FetchesType);
    const next: OrtKvCache = { ...kv, length: total, consumed: false };
    const result: DecoderStep = { logits: out.logits.data as Float32Array, logitsLength: keep, cache: next };
    if (opts.hiddenStates) result.hidden = Array.from({ length: L + 1 }, (_, l) => out[`hidden_states.${l}`].data as Float32Array);
    return result;
  }

  return {
    provider,
    vocabSize: cfg.vocabSize,
    maxPositions: cfg.maxPositions,
    numLayers: L,
    step,
    openBatch: (maxRows) =>
      openDecoderBatch(
        {
          session,
          layers: L,
          kvHeads: cfg.numKvHeads,
          headDim: cfg.headDim,
          vocabSize: cfg.vocabSize,
          maxPositions: cfg.maxPositions,
          prefill: async (ids) => {
            const r = await step(ids, 1, null, 1, ids.length);
            return { logits: r.logits, cache: r.cache as OrtKvCache };
          },
        },
        maxRows,
      ),
    release: () => session.release(),
  };
}
