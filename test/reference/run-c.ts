/**
 * @module An independent float32 port of karpathy/llama2.c run.c `forward()` for tests: it reads the .bin
 * itself (no flatgate reader), keeps llama2.c's layout and interleaved RoPE, and has its own KV cache.
 */
import { readFileSync } from 'node:fs';

interface Weights {
  tokenEmbedding: Float32Array;
  rmsAtt: Float32Array;
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  wo: Float32Array;
  rmsFfn: Float32Array;
  w1: Float32Array;
  w2: Float32Array;
  w3: Float32Array;
  rmsFinal: Float32Array;
  wcls: Float32Array;
}

/** llama2.c's Config struct. */
export interface RunCConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
}

/** xout[d] = W[d, n] @ x[n] (run.c `matmul`). */
function matmul(xout: Float32Array, x: Float32Array, w: Float32Array, off: number, n: number, d: number): void {
  for (let i = 0; i < d; i++) {
    let val = 0;
    const row = off + i * n;
    for (let j = 0; j < n; j++) val += w[row + j] * x[j];
    xout[i] = val;
  }
}

function rmsnorm(o: Float32Array, x: Float32Array, w: Float32Array, off: number, size: number): void {
  let ss = 0;
  for (let j = 0; j < size; j++) ss += x[j] * x[j];
  ss = 1 / Math.sqrt(Math.fround(ss / size + 1e-5));
  for (let j = 0; j < size; j++) o[j] = w[off + j] * (ss * x[j]);
}

function softmax(x: Float32Array, size: number): void {
  let max = x[0];
  for (let i = 1; i < size; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < size; i++) {
    x[i] = Math.exp(x[i] - max);
    sum += x[i];
  }
  for (let i = 0; i < size; i++) x[i] /= sum;
}

/** run.c's Transformer: weights, config and run state (activations and KV cache) in float32. */
export class RunC {
  private readonly x: Float32Array;
  private readonly xb: Float32Array;
  private readonly xb2: Float32Array;
  private readonly hb: Float32Array;
  private readonly hb2: Float32Array;
  private readonly q: Float32Array;
  private readonly att: Float32Array;
  private readonly logits: Float32Array;
  private readonly keyCache: Float32Array;
  private readonly valueCache: Float32Array;

  private constructor(
    readonly config: RunCConfig,
    private readonly w: Weights,
  ) {
    const p = config;
    const kvDim = (p.dim * p.nKvHeads) / p.nHeads;
    this.x = new Float32Array(p.dim);
    this.xb = new Float32Array(p.dim);
    this.xb2 = new Float32Array(p.dim);
    this.hb = new Float32Array(p.hiddenDim);
    this.hb2 = new Float32Array(p.hiddenDim);
    this.q = new Float32Array(p.dim);
    this.att = new Float32Array(p.nHeads * p.seqLen);
    this.logits = new Float32Array(p.vocabSize);
    this.keyCache = new Float32Array(p.nLayers * p.seqLen * kvDim);
    this.valueCache = new Float32Array(p.nLayers * p.seqLen * kvDim);
  }

  /** Reads a llama2.c checkpoint (run.c `read_checkpoint` + `memory_map_weights`). */
  static load(file: string): RunC {
    const buf = readFileSync(file);
    const ints = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 28));
    const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = ints;
    const config: RunCConfig = { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(rawVocab), seqLen };
    const all = new Float32Array(buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + buf.length));
    const headSize = dim / nHeads;
    let ptr = 0;
    const next = (n: number) => {
      const out = all.subarray(ptr, ptr + n);
      ptr += n;
      return out;
    };
    const tokenEmbedding = next(config.vocabSize * dim);
    const w = {
      tokenEmbedding,
      rmsAtt: next(nLayers * dim),
      wq: next(nLayers * dim * nHeads * headSize),
      wk: next(nLayers * dim * nKvHeads * headSize),
      wv: next(nLayers * dim * nKvHeads * headSize),
      wo: next(nLayers * nHeads * headSize * dim),
      rmsFfn: next(nLayers * dim),
      w1: next(nLayers * dim * hiddenDim),
      w2: next(nLayers * hiddenDim * dim),
      w3: next(nLayers * dim * hiddenDim),
      rmsFinal: next(dim),
      wcls: tokenEmbedding,
    };
    next(seqLen * headSize);
    if (rawVocab < 0) w.wcls = next(config.vocabSize * dim);
    return new RunC(config, w);
  }

  /**
   * Logits after feeding `token` at position `pos`; positions must be fed in order 0, 1, 2, ... (the KV
   * cache holds the earlier ones). The returned array is reused: the next call overwrites it.
   * @example const r = RunC.load(bin); r.forward(1, 0); const logits = r.forward(403, 1);
   */
  forward(token: number, pos: number): Float32Array {
    const p = this.config;
    const w = this.w;
    const { x, xb, xb2, hb, hb2, q, att } = this;
    const dim = p.dim;
    const kvDim = (p.dim * p.nKvHeads) / p.nHeads;
    const kvMul = p.nHeads / p.nKvHeads;
    const hidden = p.hiddenDim;
    const headSize = dim / p.nHeads;
    x.set(w.tokenEmbedding.subarray(token * dim, (token + 1) * dim));
    for (let l = 0; l < p.nLayers; l++) {
      rmsnorm(xb, x, w.rmsAtt, l * dim, dim);
      const loff = l * p.seqLen * kvDim;
      const k = this.keyCache.subarray(loff + pos * kvDim, loff + (pos + 1) * kvDim);
      const v = this.valueCache.subarray(loff + pos * kvDim, loff + (pos + 1) * kvDim);
      matmul(q, xb, w.wq, l * dim * dim, dim, dim);
      matmul(k, xb, w.wk, l * dim * kvDim, dim, kvDim);
      matmul(v, xb, w.wv, l * dim * kvDim, dim, kvDim);
      for (let i = 0; i < dim; i += 2) {
        const headDim = i % headSize;
        const freq = 1 / Math.pow(10000, headDim / headSize);
        const val = pos * freq;
        const fcr = Math.cos(val);
        const fci = Math.sin(val);
        const rotn = i < kvDim ? 2 : 1;
        for (let r = 0; r < rotn; r++) {
          const vec = r === 0 ? q : k;
          const v0 = vec[i];
          const v1 = vec[i + 1];
          vec[i] = v0 * fcr - v1 * fci;
          vec[i + 1] = v0 * fci + v1 * fcr;
        }
      }
      for (let h = 0; h < p.nHeads; h++) {
        const qo = h * headSize;
        const ao = h * p.seqLen;
        const kvo = Math.floor(h / kvMul) * headSize;
        for (let t = 0; t <= pos; t++) {
          const ko = loff + t * kvDim + kvo;
          let score = 0;
          for (let i = 0; i < headSize; i++) score += q[qo + i] * this.keyCache[ko + i];
          att[ao + t] = score / Math.sqrt(headSize);
        }
        softmax(att.subarray(ao, ao + pos + 1), pos + 1);
        xb.fill(0, qo, qo + headSize);
        for (let t = 0; t <= pos; t++) {
          const vo = loff + t * kvDim + kvo;
          const a = att[ao + t];
          for (let i = 0; i < headSize; i++) xb[qo + i] += a * this.valueCache[vo + i];
        }
      }
      matmul(xb2, xb, w.wo, l * dim * dim, dim, dim);
      for (let i = 0; i < dim; i++) x[i] += xb2[i];
      rmsnorm(xb, x, w.rmsFfn, l * dim, dim);
      matmul(hb, xb, w.w1, l * dim * hidden, dim, hidden);
      matmul(hb2, xb, w.w3, l * dim * hidden, dim, hidden);
      for (let i = 0; i < hidden; i++) {
        let val = hb[i];
        val *= 1 / (1 + Math.exp(-val));
        hb[i] = val * hb2[i];
      }
      matmul(xb, hb, w.w2, l * dim * hidden, hidden, dim);
      for (let i = 0; i < dim; i++) x[i] += xb[i];
    }
    rmsnorm(x, x, w.rmsFinal, 0, dim);
    matmul(this.logits, x, w.wcls, 0, dim, p.vocabSize);
    return this.logits;
  }
}
