import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LayerWeights, LlamaModel, Matrix, ModelConfig } from '../../src/model/types.ts';
import {
  attentionHeads64,
  block64,
  forward64,
  logSoftmax64,
  matVec64,
  rmsNorm64,
  rope64,
} from './forward64.ts';
import { createRng } from '../../src/serving/generate/sampling.ts';
import { randomLayer, randomModel, randomVector, testConfig } from '../fixtures/random-model.ts';
import { GREEDY_REFERENCE, STORIES12L, STORIES260K, TOK512 } from '../fixtures/paths.ts';


function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** HF's conversion of llama2.c q/k rows: HF row half*dh/2 + j <- llama2.c row 2j + half, per head. */
function permuteRowsToHalves(m: Matrix, headDim: number): Matrix {
  const out = new Float32Array(m.data.length);
  const half = headDim / 2;
  for (let h = 0; h < m.rows / headDim; h++) {
    for (let j = 0; j < half; j++) {
      for (let p = 0; p < 2; p++) {
        const src = (h * headDim + 2 * j + p) * m.cols;
        const dst = (h * headDim + p * half + j) * m.cols;
        out.set(m.data.subarray(src, src + m.cols), dst);
      }
    }
  }
  return { rows: m.rows, cols: m.cols, data: out };
}

function toHalves(model: LlamaModel): LlamaModel {
  const dh = model.config.headDim;
  return {
    ...model,
    layers: model.layers.map((l) => ({ ...l, q: permuteRowsToHalves(l.q, dh), k: permuteRowsToHalves(l.k, dh) })),
  };
}

/** A minimal llama2.c v0 reader, independent of src/model (rope stays interleaved). */
function readLlama2c(path: string): LlamaModel {
  const buf = readFileSync(path);
  const hdr = new Int32Array(buf.buffer, buf.byteOffset, 7);
  const [D, I, L, H, Hkv, vocabSigned, seqLen] = Array.from(hdr);
  const V = Math.abs(vocabSigned);
  const dh = D / H;
  const f = new Float32Array(buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + buf.byteLength));
  let off = 0;
  const take = (n: number) => f.slice(off, (off += n));
  const mat = (rows: number, cols: number): Matrix => ({ rows, cols, data: take(rows * cols) });
  const embed = mat(V, D);
  const per = <T>(make: () => T) => Array.from({ length: L }, make);
  const attnNorm = per(() => take(D));
  const q = per(() => mat(D, D));
  const k = per(() => mat(Hkv * dh, D));
  const v = per(() => mat(Hkv * dh, D));
  const o = per(() => mat(D, D));
  const mlpNorm = per(() => take(D));
  const gate = per(() => mat(I, D));
  const down = per(() => mat(D, I));
  const up = per(() => mat(I, D));
  const norm = take(D);
  off += seqLen * dh; // freq_cis_real + freq_cis_imag
  const lmHead = vocabSigned > 0 ? null : mat(V, D);
  const config: ModelConfig = {
    ...testConfig(),
    hiddenSize: D, intermediateSize: I, numLayers: L, numHeads: H, numKvHeads: Hkv, headDim: dh,
    vocabSize: V, maxPositions: seqLen, tieWordEmbeddings: vocabSigned > 0,
  };
  const layers: LayerWeights[] = per(() => null).map((_, l) => ({
    attnNorm: attnNorm[l], q: q[l], k: k[l], v: v[l], o: o[l], mlpNorm: mlpNorm[l], gate: gate[l], up: up[l], down: down[l],
  }));
  return { config, embed, layers, norm, lmHead };
}

function readTokenPieces(path: string, vocab: number): Buffer[] {
  const buf = readFileSync(path);
  let off = 4;
  const pieces: Buffer[] = [];
  for (let i = 0; i < vocab; i++) {
    const len = buf.readInt32LE(off + 4);
    pieces.push(buf.subarray(off + 8, off + 8 + len));
    off += 8 + len;
  }
  return pieces;
}

describe('rmsNorm64 / logSoftmax64', () => {
  it('rmsNorm64 matches the closed form', () => {
    const y = rmsNorm64([3, 4], [1, 2], 0);
    const rms = Math.sqrt(12.5);
    expect(maxAbsDiff(y, [3 / rms, 8 / rms])).toBeLessThan(1e-15);
    expect(rmsNorm64([0, 0], [1, 1], 1e-6)[0]).toBe(0);
  });
  it('logSoftmax64 normalises, is shift invariant and stable', () => {
    const a = logSoftmax64([1, 2, 3]);
    expect(a.reduce((s, x) => s + Math.exp(x), 0)).toBeCloseTo(1, 14);
    expect(a[2] - a[1]).toBeCloseTo(1, 14);
    const b = logSoftmax64([1001, 1002, 1003]);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-12);
  });
});

describe('rope64', () => {
  const rand = createRng(7);
  it('is the identity at position 0', () => {
    const x = Float64Array.from(randomVector(16, rand));
    expect(rope64(Float64Array.from(x), 8, 0, 10000)).toEqual(x);
    expect(rope64(Float64Array.from(x), 8, 0, 10000, true)).toEqual(x);
  });
  it('rotates by the cos/sin closed form', () => {
    const p = 3;
    expect(maxAbsDiff(rope64(Float64Array.of(1, 0), 2, p, 500), [Math.cos(p), Math.sin(p)])).toBeLessThan(1e-15);
    // dh = 4 halves: pairs (0,2) at frequency 1 and (1,3) at frequency theta^(-1/2)
    const w = Math.pow(10000, -0.5) * p;
    const y = rope64(Float64Array.of(1, 2, 3, 4), 4, p, 10000);
    const expected = [
      Math.cos(p) - 3 * Math.sin(p), 2 * Math.cos(w) - 4 * Math.sin(w),
      3 * Math.cos(p) + Math.sin(p), 4 * Math.cos(w) + 2 * Math.sin(w),
    ];
    expect(maxAbsDiff(y, expected)).toBeLessThan(1e-14);
    const z = rope64(Float64Array.of(1, 3, 2, 4), 4, p, 10000, true);
    expect(maxAbsDiff(z, [expected[0], expected[2], expected[1], expected[3]])).toBeLessThan(1e-14);
  });
  it('keeps norms and makes q.k depend on the relative position only', () => {
    const q = Float64Array.from(randomVector(8, rand));
    const k = Float64Array.from(randomVector(8, rand));
    const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i], 0);
    const at = (x: Float64Array, p: number) => rope64(Float64Array.from(x), 8, p, 10000);
    expect(dot(at(q, 5), at(q, 5))).toBeCloseTo(dot(q, q), 12);
    expect(dot(at(q, 9), at(k, 4))).toBeCloseTo(dot(at(q, 12), at(k, 7)), 12);
  });
});

describe('block64 / forward64 closed forms', () => {
  it('with zeroed o and down projections, logits = RMSNorm(embed) . head', () => {
    for (const tied of [false, true]) {
      const model = randomModel({ ...testConfig({ numLayers: 1, tieWordEmbeddings: tied }), seed: 3 });
      model.layers[0].o.data.fill(0);
      model.layers[0].down.data.fill(0);
      const ids = [5, 0, 31, 7];
      const { logits, hidden } = forward64(model, ids);
      expect(hidden.length).toBe(2);
      const head = model.lmHead ?? model.embed;
      ids.forEach((id, t) => {
        const D = model.config.hiddenSize;
        const e = model.embed.data.subarray(id * D, (id + 1) * D);
        expect(maxAbsDiff(hidden[1][t], e)).toBe(0);
        const n = rmsNorm64(e, model.norm, model.config.rmsNormEps);
        const expected = Array.from({ length: head.rows }, (_, r) =>
          n.reduce((s, x, c) => s + x * head.data[r * D + c], 0));
        expect(maxAbsDiff(logits[t], expected)).toBeLessThan(1e-12);
      });
    }
  });

  it('a single token attends to itself: out = x + Wo expand(Wv u + bv) + MLP', () => {
    const config = testConfig({ qkvBias: true });
    const layer = randomLayer(config, createRng(11));
    const { hiddenSize: D, numHeads: H, numKvHeads: Hkv, headDim: dh, intermediateSize: I } = config;
    const x = Float64Array.from(randomVector(D, createRng(12), -2, 2));
    const u = rmsNorm64(x, layer.attnNorm, config.rmsNormEps);
    const v = matVec64(layer.v, u, layer.vBias);
    const z = Float64Array.from({ length: H * dh }, (_, r) => v[Math.floor(r / dh / (H / Hkv)) * dh + (r % dh)]);
    const h1 = matVec64(layer.o, z).map((a, i) => a + x[i]);
    const n2 = rmsNorm64(h1, layer.mlpNorm, config.rmsNormEps);
    const g = matVec64(layer.gate, n2);
    const up = matVec64(layer.up, n2);
    const psi = Float64Array.from({ length: I }, (_, i) => (g[i] / (1 + Math.exp(-g[i]))) * up[i]);
    const expected = matVec64(layer.down, psi).map((a, i) => a + h1[i]);
    expect(maxAbsDiff(block64(layer, config, [x])[0], expected)).toBeLessThan(1e-12);
  });

  it('GQA equals full multi-head attention with each KV group repeated', () => {
    const config = testConfig({ numLayers: 2, qkvBias: true });
    const model = randomModel({ ...config, seed: 5 });
    const rep = config.numHeads / config.numKvHeads;
    const dh = config.headDim;
    const repeatRows = (m: Matrix): Matrix => {
      const out = new Float32Array(m.cols * config.numHeads * dh);
      for (let h = 0; h < config.numHeads; h++) {
        const g = Math.floor(h / rep);
        out.set(m.data.subarray(g * dh * m.cols, (g + 1) * dh * m.cols), h * dh * m.cols);
      }
      return { rows: config.numHeads * dh, cols: m.cols, data: out };
    };
    const repeatVec = (b: Float32Array) =>
      Float32Array.from({ length: config.numHeads * dh }, (_, r) => b[Math.floor(r / dh / rep) * dh + (r % dh)]);
    const mha: LlamaModel = {
      ...model,
      config: { ...config, numKvHeads: config.numHeads },
      layers: model.layers.map((l) => ({
        ...l, k: repeatRows(l.k), v: repeatRows(l.v), kBias: repeatVec(l.kBias!), vBias: repeatVec(l.vBias!),
      })),
    };
    const ids = [1, 9, 4, 22, 17, 3];
    const a = forward64(model, ids).logits;
    const b = forward64(mha, ids).logits;
    a.forEach((row, t) => expect(maxAbsDiff(row, b[t])).toBeLessThan(1e-12));
  });

  it('is causal: logits at t ignore later tokens', () => {
    const model = randomModel({ ...testConfig({ numLayers: 2 }), seed: 8 });
    const a = forward64(model, [1, 2, 3, 4, 5]).logits;
    const b = forward64(model, [1, 2, 3, 30, 31]).logits;
    for (let t = 0; t < 3; t++) expect(maxAbsDiff(a[t], b[t])).toBe(0);
    expect(maxAbsDiff(a[3], b[3])).toBeGreaterThan(1e-6);
  });

  it('sliding window: one layer at t sees exactly the last `window` tokens', () => {
    const window = 3;
    const model = randomModel({ ...testConfig({ numLayers: 1, slidingWindow: window }), seed: 9 });
    const full = { ...model, config: { ...model.config, slidingWindow: null } };
    const ids = [4, 8, 15, 16, 23, 42 % 32, 7];
    const windowed = forward64(model, ids).logits;
    const unbounded = forward64(full, ids).logits;
    for (let t = 0; t < window; t++) expect(maxAbsDiff(windowed[t], unbounded[t])).toBe(0);
    for (let t = window; t < ids.length; t++) {
      const alone = forward64(full, ids.slice(t - window + 1, t + 1)).logits[window - 1];
      expect(maxAbsDiff(windowed[t], alone)).toBeLessThan(1e-10);
      expect(maxAbsDiff(windowed[t], unbounded[t])).toBeGreaterThan(1e-6);
    }
  });

  it('interleaved RoPE equals halves under the per-head q/k row permutation', () => {
    const model = randomModel({ ...testConfig({ numLayers: 2, qkvBias: false, headDim: 8, numHeads: 2, numKvHeads: 1 }), seed: 10 });
    const ids = [3, 1, 4, 1, 5, 9, 2, 6];
    const a = forward64(model, ids, { ropeInterleaved: true }).logits;
    const b = forward64(toHalves(model), ids).logits;
    const c = forward64(model, ids).logits;
    a.forEach((row, t) => expect(maxAbsDiff(row, b[t])).toBeLessThan(1e-12));
    expect(maxAbsDiff(a[7], c[7])).toBeGreaterThan(1e-6);
  });

  it('attentionHeads64 at t = 0 returns each head its group value', () => {
    const config = testConfig();
    const layer = randomLayer(config, createRng(4));
    const u = Float64Array.from(randomVector(config.hiddenSize, createRng(5)));
    const z = attentionHeads64(layer, config, [u])[0];
    const v = matVec64(layer.v, u);
    for (let h = 0; h < config.numHeads; h++) {
      const g = Math.floor(h / (config.numHeads / config.numKvHeads));
      expect(maxAbsDiff(z.subarray(h * 4, h * 4 + 4), v.subarray(g * 4, g * 4 + 4))).toBeLessThan(1e-15);
    }
  });
});

describe('real checkpoints (llama2.c, interleaved RoPE)', () => {
  it('stories260K greedy decoding reproduces run.c output', () => {
    const model = readLlama2c(STORIES260K);
    const pieces = readTokenPieces(TOK512, model.config.vocabSize);
    const reference = readFileSync(GREEDY_REFERENCE, 'utf8');
    const ids = [1];
    let text = '';
    for (let step = 0; step < 64; step++) {
      const { logits } = forward64(model, ids, { ropeInterleaved: true });
      const next = argmax(logits[ids.length - 1]);
      let piece = pieces[next].toString('latin1');
      if (ids[ids.length - 1] === 1 && piece.startsWith(' ')) piece = piece.slice(1);
      const byte = /^<0x([0-9A-F]{2})>$/.exec(piece);
      text += byte ? String.fromCharCode(parseInt(byte[1], 16)) : piece;
      ids.push(next);
    }
    expect(text.length).toBeGreaterThan(80);
    expect(reference.startsWith(text)).toBe(true);
  });

  it('stories12L (GQA 8/4): HF-permuted weights with halves equal llama2.c interleaved', () => {
    const model = readLlama2c(STORIES12L);
    expect(model.config.numKvHeads).toBe(4);
    const ids = [1, 403, 407, 261, 379, 290, 1102 % 512, 9];
    const a = forward64(model, ids, { ropeInterleaved: true });
    const b = forward64(toHalves(model), ids);
    a.logits.forEach((row, t) => expect(maxAbsDiff(row, b.logits[t])).toBeLessThan(1e-9));
    expect(a.hidden.length).toBe(13);
    const lp = logSoftmax64(a.logits[7]);
    expect(Math.max(...lp)).toBeGreaterThan(-5);
  });
});
