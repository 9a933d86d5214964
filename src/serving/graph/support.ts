/**
 * @module What the serving graph can run, checked before a model is accepted: onnxruntime's CPU
 * GroupQueryAttention kernel refuses head sizes that are not a multiple of 8 (found by running every
 * size from 2 to 512 through it), so such a model would pass every file check and fail in the worker.
 */

/** Attention shape of a model. */
export interface AttentionShape {
  headDim: number;
  numHeads: number;
  numKvHeads: number;
}

/**
 * Why the serving graph cannot run a model of this attention shape, or null when it can.
 * @example attentionUnsupported({ headDim: 12, numHeads: 4, numKvHeads: 4 }) // 'head size 12 ...'
 */
export function attentionUnsupported(s: AttentionShape): string | null {
  if (!Number.isInteger(s.headDim) || s.headDim % 8 !== 0) {
    return `head size ${s.headDim} (hidden size / attention heads) is not supported: the attention kernel needs a multiple of 8`;
  }
  if (!Number.isInteger(s.numHeads / s.numKvHeads)) return `${s.numKvHeads} key/value heads do not divide ${s.numHeads} attention heads`;
  return null;
}
