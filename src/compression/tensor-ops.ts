/**
 * @module Small element-wise kernels the compression steps share: embedding lookup, float64
 * accumulation of float32 batches, the final norm + LM head in plain JS, and next-token NLL of a batch.
 * Pure functions, no I/O, no awaits.
 */
import type { LayerWeights, LlamaModel, Matrix } from '../model/types.ts';

/** Rows `ids` of the embedding matrix: [ids.length, D] float32. */
export function embedRows(embed: Matrix, ids: readonly number[]): Float32Array {
  const D = embed.cols;
  const out = new Float32Array(ids.length * D);
  const table = embed.data;
  ids.forEach((id, t) => {
    if (!(Number.isInteger(id) && id >= 0 && id < embed.rows)) throw new RangeError(`embedRows: token id ${id} out of range`);
    out.set(table.subarray(id * D, (id + 1) * D), t * D);
  });
  return out;
}

/** acc += x, element-wise (acc float64, x any numeric array of the same length). */
export function addInto(acc: Float64Array, x: ArrayLike<number>): void {
  if (acc.length !== x.length) throw new RangeError(`addInto: ${acc.length} vs ${x.length} entries`);
  for (let i = 0; i < acc.length; i++) acc[i] += x[i];
}

/**
 * Logits of the last `keep` positions of each row: RMSNorm(hidden) * norm, times the LM head (or the
 * tied embedding). `hidden` is [batch, seq, D]; returns [batch, keep, V] float32.
 */
export function headLogits(model: LlamaModel, hidden: Float32Array, batch: number, seq: number, keep: number): Float32Array {
  const D = model.config.hiddenSize;
  const head = model.lmHead ?? model.embed;
  const weights = head.data;
  const V = head.rows;
  const out = new Float32Array(batch * keep * V);
  const u = new Float64Array(D);
  for (let b = 0; b < batch; b++) {
    for (let k = 0; k < keep; k++) {
      const base = (b * seq + seq - keep + k) * D;
      let ss = 0;
      for (let c = 0; c < D; c++) ss += hidden[base + c] * hidden[base + c];
      const r = 1 / Math.sqrt(ss / D + model.config.rmsNormEps);
      for (let c = 0; c < D; c++) u[c] = hidden[base + c] * r * model.norm[c];
      const row = (b * keep + k) * V;
      for (let v = 0; v < V; v++) {
        let s = 0;
        const w = v * D;
        for (let c = 0; c < D; c++) s += weights[w + c] * u[c];
        out[row + v] = s;
      }
    }
  }
  return out;
}

/**
 * Summed next-token negative log-likelihood of a batch: logits [batch, seq, V] for rows of `ids`
 * ([batch, seq]); position t predicts ids[t+1], so each row contributes seq - 1 tokens.
 */
export function nextTokenNll(logits: Float32Array, ids: readonly number[], batch: number, seq: number, V: number): { sum: number; count: number } {
  let sum = 0;
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t + 1 < seq; t++) {
      const row = (b * seq + t) * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (logits[row + v] > max) max = logits[row + v];
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(logits[row + v] - max);
      sum += max + Math.log(z) - logits[row + ids[b * seq + t + 1]];
    }
  }
  return { sum, count: batch * (seq - 1) };
}

/** Shape signature of a block: [q rows, k rows, gate rows, D]. */
export function layerShape(l: LayerWeights): [number, number, number, number] {
  return [l.q.rows, l.k.rows, l.gate.rows, l.q.cols];
}

/** Parameters of one block (norms, projections, biases). */
export function blockParams(l: LayerWeights): number {
  const m = (x: Matrix) => x.rows * x.cols;
  return (
    l.attnNorm.length + l.mlpNorm.length + m(l.q) + m(l.k) + m(l.v) + m(l.o) + m(l.gate) + m(l.up) + m(l.down) +
    (l.qBias?.length ?? 0) + (l.kBias?.length ?? 0) + (l.vBias?.length ?? 0)
  );
}

/** A copy of `model` keeping only the layers whose index is not in `removed`, config updated. */
export function withoutLayers(model: LlamaModel, removed: readonly number[]): LlamaModel {
  const drop = new Set(removed);
  const layers = model.layers.filter((_, l) => !drop.has(l));
  return { ...model, layers, config: { ...model.config, numLayers: layers.length } };
}
