/**
 * @module Flattening a group of m adjacent blocks into one block m times wider (flattengpt.md
 * section 2): norms folded, then q/k/v/gate/up stacked along their output rows, o/down along their
 * input columns, biases concatenated. Member j's query heads keep reading member j's KV groups.
 */
import type { LayerWeights, Matrix, ModelConfig } from '../../model/types.ts';
import { foldNorms } from './fold-norms.ts';

/** Matrices with equal column counts stacked vertically (HF: concatenated output rows). */
export function stackRows(ms: readonly Matrix[]): Matrix {
  const cols = ms[0].cols;
  if (ms.some((m) => m.cols !== cols)) throw new RangeError('stackRows: column counts differ');
  const rows = ms.reduce((s, m) => s + m.rows, 0);
  const data = new Float32Array(rows * cols);
  let off = 0;
  for (const m of ms) {
    data.set(m.data, off);
    off += m.data.length;
  }
  return { rows, cols, data };
}

/** Matrices with equal row counts placed side by side (HF: concatenated input columns). */
export function concatColumns(ms: readonly Matrix[]): Matrix {
  const rows = ms[0].rows;
  if (ms.some((m) => m.rows !== rows)) throw new RangeError('concatColumns: row counts differ');
  const cols = ms.reduce((s, m) => s + m.cols, 0);
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let off = r * cols;
    for (const m of ms) {
      data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), off);
      off += m.cols;
    }
  }
  return { rows, cols, data };
}

function concatVectors(vs: readonly (Float32Array | undefined)[]): Float32Array | undefined {
  if (vs.every((v) => v === undefined)) return undefined;
  if (vs.some((v) => v === undefined)) throw new RangeError('flattenGroup: some members have q/k/v biases and some do not');
  const out = new Float32Array(vs.reduce((s, v) => s + v!.length, 0));
  let off = 0;
  for (const v of vs) {
    out.set(v!, off);
    off += v!.length;
  }
  return out;
}

/**
 * One block equivalent to running `layers` in parallel on the same input:
 * H' = X + sum_j Attn_j(RMSNorm(X)); out = H' + sum_j MLP_j(RMSNorm(H')), with unit-gain norms.
 * @returns the wide block and its widths (query heads m*H, KV heads m*Hkv, MLP channels m*I); run it
 * with a config whose numHeads / numKvHeads / intermediateSize are these.
 * @example const { layer, heads, kvHeads } = flattenGroup(model.layers.slice(a, b + 1), model.config);
 */
export function flattenGroup(
  layers: readonly LayerWeights[],
  config: Pick<ModelConfig, 'headDim'>,
): { layer: LayerWeights; heads: number; kvHeads: number; intermediate: number } {
  if (layers.length === 0) throw new RangeError('flattenGroup: empty group');
  const dh = config.headDim;
  const rep = layers[0].q.rows / layers[0].k.rows;
  for (const l of layers) {
    if (l.q.rows % dh || l.k.rows % dh || l.k.rows !== l.v.rows || l.o.cols !== l.q.rows || l.q.rows / l.k.rows !== rep) {
      throw new RangeError('flattenGroup: members have inconsistent attention shapes');
    }
  }
  const folded = layers.map(foldNorms);
  const layer: LayerWeights = {
    attnNorm: folded[0].attnNorm,
    q: stackRows(folded.map((l) => l.q)),
    k: stackRows(folded.map((l) => l.k)),
    v: stackRows(folded.map((l) => l.v)),
    o: concatColumns(folded.map((l) => l.o)),
    mlpNorm: folded[0].mlpNorm,
    gate: stackRows(folded.map((l) => l.gate)),
    up: stackRows(folded.map((l) => l.up)),
    down: concatColumns(folded.map((l) => l.down)),
  };
  const qBias = concatVectors(folded.map((l) => l.qBias));
  const kBias = concatVectors(folded.map((l) => l.kBias));
  const vBias = concatVectors(folded.map((l) => l.vBias));
  if (qBias) layer.qBias = qBias;
  if (kBias) layer.kBias = kBias;
  if (vBias) layer.vBias = vBias;
  return { layer, heads: layer.q.rows / dh, kvHeads: layer.k.rows / dh, intermediate: layer.gate.rows };
}
