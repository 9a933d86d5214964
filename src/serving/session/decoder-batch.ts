/**
 * @module Continuous batching on onnxruntime: the KV cache of several sequences in one buffer per layer,
 * [rows, kvHeads, capacity, headDim], so one run decodes a token for every row. GroupQueryAttention
 * reads each row's own length from `seqlens_k` (the attention mask's row sum - 1, right-padded), writes
 * the new key and value at that row's position in place, and attends to that row's positions only.
 */
import * as ort from 'onnxruntime-node';
import { InvalidRequest } from '../../errors.ts';
import type { DecoderBatch, KvCache } from './backend.ts';

/** One sequence batch's cache as the decoder session keeps it (see local-backend.ts). */
export interface OrtKvCache extends KvCache {
  capacity: number;
  keys: Float32Array[];
  values: Float32Array[];
  consumed: boolean;
}

/** What a batch needs from its decoder session. */
export interface BatchEngine {
  session: ort.InferenceSession;
  layers: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositions: number;
  /** Prefills one sequence alone into a cache of exactly its length; logits of its last position. */
  prefill(ids: readonly number[]): Promise<{ logits: Float32Array; cache: OrtKvCache }>;
}

/** The smallest power of two >= n (at least 16), at most `max`. */
const roundUp = (n: number, max: number): number => Math.min(max, Math.max(16, 2 ** Math.ceil(Math.log2(n))));

/**
 * A batch over `engine` holding at most `maxRows` rows. Buffers grow (rows and capacity by doubling, up
 * to `maxRows` and the model's context) and are freed when the last row leaves.
 * @example const b = openDecoderBatch(engine, 4); const first = await b.join(ids, ids.length + 16);
 */
export function openDecoderBatch(engine: BatchEngine, maxRows: number): DecoderBatch {
  if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError('maxRows must be a positive integer');
  const { layers: L, kvHeads: Hkv, headDim: dh, vocabSize: V } = engine;
  let keys: Float32Array[] = [];
  let values: Float32Array[] = [];
  let allocRows = 0;
  let capacity = 0;
  /** Valid positions of each row. */
  const lengths: number[] = [];
  let busy = false;
  /** Logits of every step are written here (no new buffer per token for the collector to chase). */
  let logits = new Float32Array(0);

  /** Copies `len` positions of every head of row `from` (stride `fromCap`) into row `to` (stride `toCap`). */
  const copyRow = (src: Float32Array, from: number, fromCap: number, dst: Float32Array, to: number, toCap: number, len: number) => {
    for (let h = 0; h < Hkv; h++) {
      const a = (from * Hkv + h) * fromCap * dh;
      dst.set(src.subarray(a, a + len * dh), (to * Hkv + h) * toCap * dh);
    }
  };

  /** Makes room for `rows` rows of `cap` positions, keeping what the current rows hold. */
  const reserve = (rows: number, cap: number) => {
    if (rows <= allocRows && cap <= capacity) return;
    const nextRows = Math.min(maxRows, Math.max(rows, allocRows * 2, 1));
    const nextCap = Math.max(capacity, roundUp(cap, engine.maxPositions));
    const size = nextRows * Hkv * nextCap * dh;
    const nk = Array.from({ length: L }, () => new Float32Array(size));
    const nv = Array.from({ length: L }, () => new Float32Array(size));
    for (let l = 0; l < L; l++) {
      for (let r = 0; r < lengths.length; r++) {
        copyRow(keys[l], r, capacity, nk[l], r, nextCap, lengths[r]);
        copyRow(values[l], r, capacity, nv[l], r, nextCap, lengths[r]);
      }
    }
    [keys, values, allocRows, capacity] = [nk, nv, nextRows, nextCap];
  };

  const exclusive = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (busy) throw new Error('decoder batch calls must not overlap');
    busy = true;
    try {
      return await fn();
    } finally {
      busy = false;
    }
  };

  return {
    get rows() {
      return lengths.length;
    },
    maxRows,
    get kvBytes() {
      return 2 * L * allocRows * Hkv * capacity * dh * 4;
    },

    join: (ids, cap) =>
      exclusive(async () => {
        if (lengths.length >= maxRows) throw new RangeError(`the batch is full (${maxRows} rows)`);
        if (cap > engine.maxPositions || cap < ids.length) {
          throw new InvalidRequest(`${cap} positions do not fit the model's context of ${engine.maxPositions}`, 'max_tokens');
        }
        const { logits, cache } = await engine.prefill(ids);
        reserve(lengths.length + 1, cap);
        const row = lengths.length;
        for (let l = 0; l < L; l++) {
          copyRow(cache.keys[l], 0, cache.capacity, keys[l], row, capacity, ids.length);
          copyRow(cache.values[l], 0, cache.capacity, values[l], row, capacity, ids.length);
        }
        lengths.push(ids.length);
        return logits.subarray(logits.length - V);
      }),

    step: (ids) =>
      exclusive(async () => {
        const n = lengths.length;
        if (ids.length !== n) throw new RangeError(`${ids.length} ids for ${n} rows`);
        if (lengths.some((len) => len + 1 > capacity)) throw new RangeError('a row would outgrow its reserved capacity');
        const total = Math.max(...lengths) + 1;
        const mask = new BigInt64Array(n * total);
        for (let r = 0; r < n; r++) mask.fill(1n, r * total, r * total + lengths[r] + 1);
        const feeds: Record<string, ort.Tensor> = {
          input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (x) => BigInt(x)), [n, 1]),
          attention_mask: new ort.Tensor('int64', mask, [n, total]),
          position_ids: new ort.Tensor('int64', BigInt64Array.from(lengths, (x) => BigInt(x)), [n, 1]),
          num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(1n), [1]),
        };
        if (logits.length < n * V) logits = new Float32Array(maxRows * V);
        const fetches: Record<string, ort.Tensor | null> = { logits: new ort.Tensor('float32', logits.subarray(0, n * V), [n, 1, V]) };
        const dims = [n, Hkv, capacity, dh];
        const used = n * Hkv * capacity * dh;
        for (let l = 0; l < L; l++) {
          // the same tensor as past input and present output: GroupQueryAttention appends in place
          const key = new ort.Tensor('float32', keys[l].subarray(0, used), dims);
          const value = new ort.Tensor('float32', values[l].subarray(0, used), dims);
          feeds[`past_key_values.${l}.key`] = key;
          feeds[`past_key_values.${l}.value`] = value;
          fetches[`present.${l}.key`] = key;
          fetches[`present.${l}.value`] = value;
        }
        await engine.session.run(feeds, fetches as ort.InferenceSession.FetchesType);
        for (let r = 0; r < n; r++) lengths[r]++;
        return logits.subarray(0, n * V);
      }),

    leave(r) {
      if (busy) throw new Error('decoder batch calls must not overlap');
      const last = lengths.length - 1;
      if (!(r >= 0 && r <= last)) throw new RangeError(`no row ${r}`);
      if (r !== last) {
        for (let l = 0; l < L; l++) {
          copyRow(keys[l], last, capacity, keys[l], r, capacity, lengths[last]);
          copyRow(values[l], last, capacity, values[l], r, capacity, lengths[last]);
        }
        lengths[r] = lengths[last];
      }
      lengths.pop();
      if (lengths.length === 0) [keys, values, allocRows, capacity, logits] = [[], [], 0, 0, new Float32Array(0)];
    },
  };
}
