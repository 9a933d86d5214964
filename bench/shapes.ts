/**
 * @module The models the benchmarks run: random-weight LLaMA shapes (seeded, so every process builds the
 * same weights) with the LLaMA-2 tokenizer, and the trained stories260K. Bench-only.
 */
import { loadModel } from '../src/model/load.ts';
import { Llama2cTokenizer } from '../src/model/tokenizer/llama2c-tokenizer.ts';
import type { LoadedModel, ModelConfig } from '../src/model/types.ts';
import { LLAMA2_TOKENIZER, STORIES260K } from '../test/fixtures/paths.ts';
import { randomModel } from '../test/fixtures/random-model.ts';

/** Random-weight shapes by name. */
export const SHAPES: Record<string, Partial<ModelConfig>> = {
  /** The 124.7M LLaMA shape of bench/serve.ts. */
  '124m': { hiddenSize: 768, intermediateSize: 2048, numLayers: 12, numHeads: 12, numKvHeads: 4, headDim: 64, vocabSize: 32000, maxPositions: 2048 },
  /** TinyLlama-1.1B's shape. */
  '1b': { hiddenSize: 2048, intermediateSize: 5632, numLayers: 22, numHeads: 32, numKvHeads: 4, headDim: 64, vocabSize: 32000, maxPositions: 2048 },
  /** A small shape with the same vocabulary, for smoke runs. */
  tiny: { hiddenSize: 128, intermediateSize: 256, numLayers: 4, numHeads: 4, numKvHeads: 2, headDim: 32, vocabSize: 32000, maxPositions: 512 },
};

/** `stories260K` (trained) or a random model of one of {@link SHAPES}, seeded with `seed`. */
export async function benchModel(name: string, seed = 124): Promise<LoadedModel> {
  if (name === 'stories260K') return loadModel(STORIES260K);
  const shape = SHAPES[name];
  if (!shape) throw new Error(`unknown model ${name}: stories260K or one of ${Object.keys(SHAPES).join(', ')}`);
  const model = randomModel({ ...shape, seed });
  const tokenizer = await Llama2cTokenizer.load(LLAMA2_TOKENIZER, 32000);
  return { model, tokenizer, source: `random ${name} (seed ${seed})` };
}
