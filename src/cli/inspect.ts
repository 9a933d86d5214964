/**
 * @module `flatgate inspect <model> [--json]`: what a checkpoint is.
 */
import { loadModel } from '../model/load.ts';
import { countParams, type LoadedModel } from '../model/types.ts';
import { modelArg, parse } from './args.ts';

/** The facts `inspect` prints. */
export function describeModel(loaded: LoadedModel) {
  const c = loaded.model.config;
  return {
    source: loaded.source,
    architecture: c.architecture,
    layers: loaded.model.layers.length,
    heads: c.numHeads,
    kv_heads: c.numKvHeads,
    head_dim: c.headDim,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    vocab_size: c.vocabSize,
    context_length: c.maxPositions,
    tied_embeddings: c.tieWordEmbeddings,
    rope_theta: c.ropeTheta,
    rms_norm_eps: c.rmsNormEps,
    params: countParams(loaded.model),
    dtype: c.dtype,
  };
}

export async function inspectCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, tokenizer: { type: 'string' } });
  const loaded = await loadModel(modelArg(positionals, 'flatgate inspect <model> [--json]'), { tokenizer: values.tokenizer });
  const d = describeModel(loaded);
  if (values.json) {
    console.log(JSON.stringify(d, null, 2));
    return;
  }
  for (const [k, v] of Object.entries(d)) console.log(`${k.padEnd(18)} ${v}`);
}
