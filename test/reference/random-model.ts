/**
 * @module Seeded random LLaMA-family models and blocks for tests (deterministic, no I/O).
 */
import type { LayerWeights, LlamaModel, Matrix, ModelConfig } from '../../src/model/types.ts';

/** A deterministic PRNG (mulberry32) returning uniforms in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Approximately standard normal samples (Box-Muller) from a uniform source. */
export function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** A rows x cols matrix with N(0, scale^2) entries. */
export function randomMatrix(rows: number, cols: number, rand: () => number, scale = 1): Matrix {
  const g = gaussian(rand);
  return { rows, cols, data: Float32Array.from({ length: rows * cols }, () => g() * scale) };
}

/** A vector with entries uniform in [lo, hi). */
export function randomVector(n: number, rand: () => number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
}

/** A small config for tests; override any field. */
export function testConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  return {
    architecture: 'LlamaForCausalLM',
    hiddenSize: 16,
    intermediateSize: 24,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 4,
    vocabSize: 32,
    maxPositions: 64,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: false,
    qkvBias: false,
    slidingWindow: null,
    bosTokenId: 1,
    eosTokenId: 2,
    dtype: 'F32',
    ...over,
  };
}

/** One block with random weights scaled ~1/sqrt(fan-in) and norm gains in [0.5, 1.5). */
export function randomLayer(config: ModelConfig, rand: () => number): LayerWeights {
  const { hiddenSize: D, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: dh } = config;
  const s = 1 / Math.sqrt(D);
  const layer: LayerWeights = {
    attnNorm: randomVector(D, rand, 0.5, 1.5),
    q: randomMatrix(H * dh, D, rand, s),
    k: randomMatrix(Hkv * dh, D, rand, s),
    v: randomMatrix(Hkv * dh, D, rand, s),
    o: randomMatrix(D, H * dh, rand, 1 / Math.sqrt(H * dh)),
    mlpNorm: randomVector(D, rand, 0.5, 1.5),
    gate: randomMatrix(I, D, rand, s),
    up: randomMatrix(I, D, rand, s),
    down: randomMatrix(D, I, rand, 1 / Math.sqrt(I)),
  };
  if (config.qkvBias) {
    layer.qBias = randomVector(H * dh, rand, -0.5, 0.5);
    layer.kBias = randomVector(Hkv * dh, rand, -0.5, 0.5);
    layer.vBias = randomVector(Hkv * dh, rand, -0.5, 0.5);
  }
  return layer;
}

/** A whole random model (untied head unless `config.tieWordEmbeddings`). */
export function randomModel(config: ModelConfig, seed = 1): LlamaModel {
  const rand = seededRandom(seed);
  const D = config.hiddenSize;
  return {
    config,
    embed: randomMatrix(config.vocabSize, D, rand),
    layers: Array.from({ length: config.numLayers }, () => randomLayer(config, rand)),
    norm: randomVector(D, rand, 0.5, 1.5),
    lmHead: config.tieWordEmbeddings ? null : randomMatrix(config.vocabSize, D, rand, 1 / Math.sqrt(D)),
  };
}
