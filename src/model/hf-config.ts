/**
 * @module Hugging Face config.json <-> ModelConfig for LlamaForCausalLM, MistralForCausalLM and
 * Qwen2ForCausalLM: validated reading (every field checked against sane bounds) and the config that
 * transformers itself would write.
 */
import { InvalidModelFile, UnsupportedModel } from '../errors.ts';
import { ARCHITECTURES, type Architecture, type DType, type ModelConfig } from './types.ts';

const MODEL_TYPES: Record<Architecture, string> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
};

const TORCH_DTYPES: Record<DType, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** Upper bounds of the integer fields; anything above is a broken or hostile config. */
export const HF_CONFIG_LIMITS = {
  hidden_size: 65536,
  intermediate_size: 1_000_000,
  num_hidden_layers: 1024,
  num_attention_heads: 4096,
  num_key_value_heads: 4096,
  head_dim: 4096,
  vocab_size: 1_000_000,
  max_position_embeddings: 1 << 24,
  sliding_window: 1 << 24,
} as const;

/** The architecture a config names (architectures[0], else model_type); UnsupportedModel if unknown. */
function architectureOf(c: Record<string, unknown>, file: string): Architecture {
  const supported = `supported: ${ARCHITECTURES.join(', ')}`;
  if (Array.isArray(c.architectures) && c.architectures.length > 0) {
    const name = c.architectures[0];
    if ((ARCHITECTURES as readonly unknown[]).includes(name)) return name as Architecture;
    throw new UnsupportedModel(`${file}: architecture '${String(name)}' is not supported (${supported})`);
  }
  if (c.architectures !== undefined && c.architectures !== null && !Array.isArray(c.architectures)) {
    throw new InvalidModelFile(file, `config.json: architectures must be a list`);
  }
  const byType = ARCHITECTURES.find((a) => MODEL_TYPES[a] === c.model_type);
  if (byType) return byType;
  throw new UnsupportedModel(`${file}: model_type '${String(c.model_type)}' without architectures is not supported (${supported})`);
}

/**
 * The ModelConfig of a parsed config.json. Missing or absurd fields throw `InvalidModelFile` naming the
 * field; rope scaling, activations other than SiLU, MLP biases and mixed sliding/full layers throw
 * `UnsupportedModel`. Optional fields get transformers' defaults.
 * @example const config = parseHfConfig(JSON.parse(await readFile(path, 'utf8')), path);
 */
export function parseHfConfig(json: unknown, file: string): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InvalidModelFile(file, 'config.json is not a JSON object');
  const c = json as Record<string, unknown>;
  const architecture = architectureOf(c, file);
  const bad = (field: string, problem: string) => new InvalidModelFile(file, `config.json: '${field}' ${problem}`);

  const int = (field: keyof typeof HF_CONFIG_LIMITS, fallback?: number): number => {
    const v = c[field] ?? fallback;
    if (v === undefined) throw bad(field, 'is missing');
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw bad(field, `must be a positive integer (got ${JSON.stringify(v)})`);
    if (v > HF_CONFIG_LIMITS[field]) throw bad(field, `is ${v}, above the limit ${HF_CONFIG_LIMITS[field]}`);
    return v;
  };
  const real = (field: string, fallback: number, max: number): number => {
    const v = c[field] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) throw bad(field, `must be a number in (0, ${max}] (got ${JSON.stringify(v)})`);
    return v;
  };

  if (c.rope_scaling !== undefined && c.rope_scaling !== null) {
    throw new UnsupportedModel(`${file}: rope_scaling ${JSON.stringify(c.rope_scaling)} is not supported`);
  }
  const rope = c.rope_parameters as Record<string, unknown> | null | undefined;
  if (rope != null && (typeof rope !== 'object' || (rope.rope_type ?? 'default') !== 'default')) {
    throw new UnsupportedModel(`${file}: rope_parameters ${JSON.stringify(rope)} is not supported (only default RoPE)`);
  }
  const act = c.hidden_act ?? 'silu';
  if (act !== 'silu') throw new UnsupportedModel(`${file}: hidden_act '${String(act)}' is not supported (only silu)`);
  if (c.mlp_bias === true) throw new UnsupportedModel(`${file}: mlp_bias is not supported`);

  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) throw bad('num_key_value_heads', `(${numKvHeads}) must divide num_attention_heads (${numHeads})`);
  if (c.head_dim == null && hiddenSize % numHeads !== 0) {
    throw bad('num_attention_heads', `(${numHeads}) must divide hidden_size (${hiddenSize}) when head_dim is absent`);
  }
  const headDim = int('head_dim', hiddenSize / numHeads);
  if (headDim % 2 !== 0) throw bad('head_dim', `must be even for rotary embeddings (got ${headDim})`);
  const vocabSize = int('vocab_size');
  const numLayers = int('num_hidden_layers');

  const tokenId = (field: string, fallback: number): number => {
    let v = c[field];
    if (Array.isArray(v)) v = v[0];
    if (v == null) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= vocabSize) throw bad(field, `must be a token id below vocab_size (got ${JSON.stringify(c[field])})`);
    return v;
  };
  const eosTokenId = tokenId('eos_token_id', Math.min(2, vocabSize - 1));
  const bosTokenId = tokenId('bos_token_id', architecture === 'Qwen2ForCausalLM' ? eosTokenId : Math.min(1, vocabSize - 1));

  const tie = c.tie_word_embeddings ?? false;
  if (typeof tie !== 'boolean') throw bad('tie_word_embeddings', 'must be true or false');
  const torchDtype = c.torch_dtype ?? c.dtype ?? 'float32';
  const dtype = (Object.keys(TORCH_DTYPES) as DType[]).find((d) => TORCH_DTYPES[d] === torchDtype);
  if (!dtype) throw new UnsupportedModel(`${file}: torch_dtype '${String(torchDtype)}' is not supported (float32, float16, bfloat16)`);

  return {
    architecture,
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    vocabSize,
    maxPositions: int('max_position_embeddings', 2048),
    rmsNormEps: real('rms_norm_eps', 1e-6, 1),
    ropeTheta: real('rope_theta', typeof rope?.rope_theta === 'number' ? rope.rope_theta : 10000, 1e12),
    tieWordEmbeddings: tie,
    qkvBias: architecture === 'Qwen2ForCausalLM' || (architecture === 'LlamaForCausalLM' && c.attention_bias === true),
    slidingWindow: slidingWindowOf(c, architecture, numLayers, () => int('sliding_window')),
    bosTokenId,
    eosTokenId,
    dtype,
  };
}

/** The uniform sliding window of a config, or null; mixed sliding/full layers are unsupported. */
function slidingWindowOf(c: Record<string, unknown>, arch: Architecture, numLayers: number, window: () => number): number | null {
  if (arch === 'LlamaForCausalLM' || c.sliding_window == null) return null;
  if (Array.isArray(c.layer_types)) {
    const kinds = new Set(c.layer_types);
    if (kinds.size > 1) throw new UnsupportedModel(`mixed sliding and full attention layers are not supported`);
    return kinds.has('sliding_attention') ? window() : null;
  }
  if (arch === 'MistralForCausalLM') return window();
  if (c.use_sliding_window !== true) return null;
  const full = typeof c.max_window_layers === 'number' ? c.max_window_layers : numLayers;
  if (full >= numLayers) return null;
  if (full > 0) throw new UnsupportedModel(`Qwen2 with sliding window from layer ${full} of ${numLayers} is not supported (all or none)`);
  return window();
}

/**
 * The config.json transformers writes for this model (LlamaForCausalLM, MistralForCausalLM or
 * Qwen2ForCausalLM); `parseHfConfig(toHfConfig(c))` gives back `c` (Qwen2 always comes back with
 * `qkvBias`). Combinations HF cannot express (Mistral with biases, Llama with a sliding window) throw
 * `UnsupportedModel`. A Llama `attention_bias` also means an o_proj bias: writers store it as zeros.
 * @example await writeFile(join(dir, 'config.json'), JSON.stringify(toHfConfig(model.config), null, 2));
 */
export function toHfConfig(config: ModelConfig): Record<string, unknown> {
  if (config.architecture === 'MistralForCausalLM' && config.qkvBias) {
    throw new UnsupportedModel('MistralForCausalLM has no q/k/v biases; use LlamaForCausalLM or Qwen2ForCausalLM');
  }
  if (config.architecture === 'LlamaForCausalLM' && config.slidingWindow !== null) {
    throw new UnsupportedModel('LlamaForCausalLM has no sliding window; use MistralForCausalLM or Qwen2ForCausalLM');
  }
  const out: Record<string, unknown> = {
    architectures: [config.architecture],
    model_type: MODEL_TYPES[config.architecture],
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    vocab_size: config.vocabSize,
    max_position_embeddings: config.maxPositions,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: null,
    hidden_act: 'silu',
    tie_word_embeddings: config.tieWordEmbeddings,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    torch_dtype: TORCH_DTYPES[config.dtype],
    attention_dropout: 0,
    initializer_range: 0.02,
    use_cache: true,
  };
  if (config.architecture === 'LlamaForCausalLM') {
    Object.assign(out, { attention_bias: config.qkvBias, mlp_bias: false, pretraining_tp: 1 });
  } else if (config.architecture === 'MistralForCausalLM') {
    out.sliding_window = config.slidingWindow;
  } else {
    Object.assign(out, {
      use_sliding_window: config.slidingWindow !== null,
      sliding_window: config.slidingWindow,
      max_window_layers: config.slidingWindow !== null ? 0 : config.numLayers,
    });
  }
  return out;
}
