/**
 * @module Writes the ONNX export of a model: model.onnx with its weights in model.onnx.data, an
 * onnxruntime-genai style genai_config.json, and config.json + tokenizer files so that transformers.js and
 * onnxruntime-genai can load the folder.
 */
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toHfConfig } from '../model/hf-config.ts';
import { tokenizerConfigJson } from '../model/tokenizer/tokenizer-json.ts';
import type { LoadedModel, ModelConfig } from '../model/types.ts';
import type { SerializedModel } from './graph/builder.ts';
import { buildDecoderGraph } from './graph/llama.ts';

/** Writes the external weights file piece by piece (never one buffer of the whole model). */
async function writeChunks(file: string, graph: SerializedModel): Promise<void> {
  const fh = await open(file, 'w');
  try {
    for (const c of graph.chunks) {
      const bytes = c.read();
      await fh.write(bytes, 0, bytes.byteLength, c.offset);
    }
    await fh.truncate(graph.dataBytes);
  } finally {
    await fh.close();
  }
}

/** onnxruntime-genai's description of the decoder and its default search settings. */
export function genaiConfig(cfg: ModelConfig, numLayers: number): Record<string, unknown> {
  return {
    model: {
      type: 'llama',
      bos_token_id: cfg.bosTokenId,
      eos_token_id: cfg.eosTokenId,
      pad_token_id: cfg.eosTokenId,
      vocab_size: cfg.vocabSize,
      context_length: cfg.maxPositions,
      decoder: {
        filename: 'model.onnx',
        head_size: cfg.headDim,
        hidden_size: cfg.hiddenSize,
        num_attention_heads: cfg.numHeads,
        num_key_value_heads: cfg.numKvHeads,
        num_hidden_layers: numLayers,
        session_options: { provider_options: [] },
        inputs: {
          input_ids: 'input_ids',
          attention_mask: 'attention_mask',
          position_ids: 'position_ids',
          past_key_names: 'past_key_values.%d.key',
          past_value_names: 'past_key_values.%d.value',
        },
        outputs: { logits: 'logits', present_key_names: 'present.%d.key', present_value_names: 'present.%d.value' },
      },
    },
    search: { do_sample: false, max_length: cfg.maxPositions, num_beams: 1, temperature: 1, top_k: 1, top_p: 1 },
  };
}

/**
 * Exports `loaded` to `dir`.
 * @example await writeOnnxExport('out/onnx', loaded);
 */
export async function writeOnnxExport(dir: string, loaded: LoadedModel, opts: { hiddenStates?: boolean } = {}): Promise<void> {
  const { model, tokenizer } = loaded;
  await mkdir(dir, { recursive: true });
  const graph = buildDecoderGraph(model, { dataFile: 'model.onnx.data', hiddenStates: opts.hiddenStates });
  await writeFile(join(dir, 'model.onnx'), graph.model);
  await writeChunks(join(dir, 'model.onnx.data'), graph);
  await writeFile(join(dir, 'genai_config.json'), JSON.stringify(genaiConfig(model.config, model.layers.length), null, 2));
  const hf = { ...toHfConfig({ ...model.config, numLayers: model.layers.length }), use_cache: true };
  await writeFile(join(dir, 'config.json'), JSON.stringify(hf, null, 2));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer.toTokenizerJson(), null, 2));
  const tokConfig = tokenizer.tokenizerConfig?.() ?? tokenizerConfigJson({ modelMaxLength: model.config.maxPositions });
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tokConfig, null, 2));
}
