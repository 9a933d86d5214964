/**
 * @module Writes a loaded model as a Hugging Face checkpoint folder that transformers loads: config.json,
 * generation_config.json, model.safetensors (sharded when large), tokenizer.json and tokenizer_config.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeHfWeights } from './hf-folder.ts';
import { tokenizerConfigJson } from './tokenizer/tokenizer-json.ts';
import type { DType, LoadedModel } from './types.ts';

/**
 * Saves `loaded` under `dir` (created if needed).
 * @example await saveHfFolder('out/stories260K-hf', await loadModel('stories260K.bin'));
 */
export async function saveHfFolder(dir: string, loaded: LoadedModel, opts: { dtype?: DType } = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeHfWeights(dir, loaded.model, { dtype: opts.dtype });
  const { tokenizer, model } = loaded;
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer.toTokenizerJson(), null, 2));
  const config = tokenizer.tokenizerConfig?.() ?? tokenizerConfigJson({ modelMaxLength: model.config.maxPositions });
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
}
