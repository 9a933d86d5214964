import { describe, expect, it } from 'vitest';
import { InvalidModelFile, UnsupportedModel } from '../errors.ts';
import { parseHfConfig, toHfConfig } from './hf-config.ts';
import type { ModelConfig } from './types.ts';

/** Published config.json files (TinyLlama-1.1B-Chat-v1.0, Qwen2.5-0.5B-Instruct, Mistral-7B-v0.1). */
const tinyLlama = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu',
  hidden_size: 2048, initializer_range: 0.02, intermediate_size: 5632, max_position_embeddings: 2048, model_type: 'llama',
  num_attention_heads: 32, num_hidden_layers: 22, num_key_value_heads: 4, pretraining_tp: 1, rms_norm_eps: 1e-5,
  rope_scaling: null, rope_theta: 10000.0, tie_word_embeddings: false, torch_dtype: 'bfloat16',
  transformers_version: '4.35.0', use_cache: true, vocab_size: 32000,
};
const qwen25 = {
  architectures: ['Qwen2ForCausalLM'], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151645, hidden_act: 'silu',
  hidden_size: 896, initializer_range: 0.02, intermediate_size: 4864, max_position_embeddings: 32768, max_window_layers: 21,
  model_type: 'qwen2', num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2, rms_norm_eps: 1e-6,
  rope_theta: 1000000.0, sliding_window: 32768, tie_word_embeddings: true, torch_dtype: 'bfloat16',
  transformers_version: '4.43.1', use_cache: true, use_sliding_window: false, vocab_size: 151936,
};
const mistral7b = {
  architectures: ['MistralForCausalLM'], bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', hidden_size: 4096,
  initializer_range: 0.02, intermediate_size: 14336, max_position_embeddings: 32768, model_type: 'mistral',
  num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, rms_norm_eps: 1e-5, rope_theta: 10000.0,
  sliding_window: 4096, tie_word_embeddings: false, torch_dtype: 'bfloat16', transformers_version: '4.34.0.dev0',
  use_cache: true, vocab_size: 32000,
};

describe('parseHfConfig on published configs', () => {
  it('reads TinyLlama', () => {
    expect(parseHfConfig(tinyLlama, 'tiny/config.json')).toEqual({
      architecture: 'LlamaForCausalLM', hiddenSize: 2048, intermediateSize: 5632, numLayers: 22, numHeads: 32, numKvHeads: 4,
      headDim: 64, vocabSize: 32000, maxPositions: 2048, rmsNormEps: 1e-5, ropeTheta: 10000, tieWordEmbeddings: false,
      qkvBias: false, slidingWindow: null, bosTokenId: 1, eosTokenId: 2, dtype: 'BF16',
    } satisfies ModelConfig);
  });

  it('reads Qwen2.5 (biases always, sliding window off, tied)', () => {
    const c = parseHfConfig(qwen25, 'q');
    expect(c).toMatchObject({ architecture: 'Qwen2ForCausalLM', headDim: 64, numKvHeads: 2, qkvBias: true, slidingWindow: null });
    expect(c).toMatchObject({ tieWordEmbeddings: true, ropeTheta: 1e6, bosTokenId: 151643, eosTokenId: 151645 });
  });

  it('reads Mistral (sliding window)', () => {
    expect(parseHfConfig(mistral7b, 'm')).toMatchObject({ architecture: 'MistralForCausalLM', headDim: 128, slidingWindow: 4096, qkvBias: false });
  });

  it('takes the first of a list of eos ids and applies transformers defaults', () => {
    const { num_key_value_heads: _kv, rms_norm_eps: _e, rope_theta: _t, ...bare } = tinyLlama;
    const c = parseHfConfig({ ...bare, eos_token_id: [2, 7, 9], torch_dtype: undefined }, 'x');
    expect(c).toMatchObject({ eosTokenId: 2, numKvHeads: 32, rmsNormEps: 1e-6, ropeTheta: 10000, dtype: 'F32' });
  });

  it('reads attention_bias as q/k/v biases for Llama, and rope_theta from rope_parameters', () => {
    const c = parseHfConfig({ ...tinyLlama, attention_bias: true, rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 5e5 } }, 'x');
    expect(c).toMatchObject({ qkvBias: true, ropeTheta: 5e5 });
  });

  it('reads Qwen2 sliding windows only when every layer slides', () => {
    expect(parseHfConfig({ ...qwen25, use_sliding_window: true, max_window_layers: 0 }, 'q').slidingWindow).toBe(32768);
    expect(parseHfConfig({ ...qwen25, use_sliding_window: true, max_window_layers: 24 }, 'q').slidingWindow).toBe(null);
    expect(() => parseHfConfig({ ...qwen25, use_sliding_window: true }, 'q')).toThrow(UnsupportedModel);
    expect(() => parseHfConfig({ ...mistral7b, layer_types: ['full_attention', 'sliding_attention'] }, 'm')).toThrow(UnsupportedModel);
  });
});

describe('toHfConfig', () => {
  const base = parseHfConfig(tinyLlama, 'x');
  const variants: ModelConfig[] = [
    { ...base, dtype: 'F32' },
    { ...base, qkvBias: true, tieWordEmbeddings: true, dtype: 'F16' },
    { ...base, architecture: 'MistralForCausalLM', slidingWindow: 256 },
    { ...base, architecture: 'MistralForCausalLM' },
    { ...base, architecture: 'Qwen2ForCausalLM', qkvBias: true, slidingWindow: 128, headDim: 96 },
    { ...base, architecture: 'Qwen2ForCausalLM', qkvBias: true },
  ];
  it.each(variants.map((v) => [v.architecture, v] as const))('round trips %s', (_name, config) => {
    const json = JSON.parse(JSON.stringify(toHfConfig(config)));
    expect(parseHfConfig(json, 'x')).toEqual(config);
  });

  it('writes the fields transformers writes', () => {
    const q = toHfConfig({ ...base, architecture: 'Qwen2ForCausalLM', qkvBias: true, slidingWindow: null });
    expect(q).toMatchObject({ model_type: 'qwen2', use_sliding_window: false, hidden_act: 'silu', torch_dtype: 'bfloat16', head_dim: 64 });
    expect(toHfConfig(base)).toMatchObject({ architectures: ['LlamaForCausalLM'], model_type: 'llama', attention_bias: false });
    expect(toHfConfig({ ...base, architecture: 'MistralForCausalLM', slidingWindow: 7 })).toMatchObject({ sliding_window: 7 });
  });

  it('refuses what HF cannot express', () => {
    expect(() => toHfConfig({ ...base, architecture: 'MistralForCausalLM', qkvBias: true })).toThrow(UnsupportedModel);
    expect(() => toHfConfig({ ...base, slidingWindow: 64 })).toThrow(UnsupportedModel);
  });
});

describe('parseHfConfig rejections', () => {
  const invalid: [string, Record<string, unknown>, string][] = [
    ['missing hidden_size', { hidden_size: undefined }, 'hidden_size'],
    ['missing vocab_size', { vocab_size: undefined }, 'vocab_size'],
    ['missing intermediate_size', { intermediate_size: undefined }, 'intermediate_size'],
    ['missing num_hidden_layers', { num_hidden_layers: undefined }, 'num_hidden_layers'],
    ['string size', { hidden_size: '2048' }, 'hidden_size'],
    ['fractional size', { intermediate_size: 5632.5 }, 'intermediate_size'],
    ['zero layers', { num_hidden_layers: 0 }, 'num_hidden_layers'],
    ['negative heads', { num_attention_heads: -32 }, 'num_attention_heads'],
    ['hidden_size too large', { hidden_size: 131072 }, 'hidden_size'],
    ['too many layers', { num_hidden_layers: 5000 }, 'num_hidden_layers'],
    ['vocab too large', { vocab_size: 2_000_000 }, 'vocab_size'],
    ['intermediate too large', { intermediate_size: 2_000_000 }, 'intermediate_size'],
    ['heads not dividing hidden', { num_attention_heads: 30, num_key_value_heads: 30 }, 'num_attention_heads'],
    ['kv heads not dividing heads', { num_key_value_heads: 5 }, 'num_key_value_heads'],
    ['odd head_dim', { head_dim: 63 }, 'head_dim'],
    ['eps not positive', { rms_norm_eps: 0 }, 'rms_norm_eps'],
    ['rope_theta string', { rope_theta: 'big' }, 'rope_theta'],
    ['eos beyond vocab', { eos_token_id: 32000 }, 'eos_token_id'],
    ['tie not boolean', { tie_word_embeddings: 'yes' }, 'tie_word_embeddings'],
  ];
  it.each(invalid)('%s -> InvalidModelFile naming the field', (_name, patch, field) => {
    const err = (() => {
      try {
        parseHfConfig({ ...tinyLlama, ...patch }, 'dir/config.json');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidModelFile);
    expect((err as Error).message).toContain(`'${field}'`);
    expect((err as Error).message).toContain('dir/config.json');
  });

  it('rejects a config that is not an object', () => {
    expect(() => parseHfConfig([1], 'c')).toThrow(InvalidModelFile);
    expect(() => parseHfConfig(null, 'c')).toThrow(InvalidModelFile);
  });

  const unsupported: [string, Record<string, unknown>, RegExp][] = [
    ['unknown architecture', { architectures: ['GPT2LMHeadModel'] }, /GPT2LMHeadModel.*LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM/],
    ['unknown model_type', { architectures: undefined, model_type: 'gemma' }, /gemma/],
    ['rope scaling', { rope_scaling: { rope_type: 'llama3', factor: 32 } }, /rope_scaling/],
    ['yarn rope_parameters', { rope_parameters: { rope_type: 'yarn', factor: 4 } }, /rope_parameters/],
    ['gelu', { hidden_act: 'gelu' }, /gelu/],
    ['mlp bias', { mlp_bias: true }, /mlp_bias/],
    ['float64', { torch_dtype: 'float64' }, /float64/],
  ];
  it.each(unsupported)('%s -> UnsupportedModel', (_name, patch, message) => {
    expect(() => parseHfConfig({ ...tinyLlama, ...patch }, 'c')).toThrow(UnsupportedModel);
    expect(() => parseHfConfig({ ...tinyLlama, ...patch }, 'c')).toThrow(message);
  });

  it('infers the architecture from model_type when architectures is absent', () => {
    expect(parseHfConfig({ ...mistral7b, architectures: undefined }, 'c').architecture).toBe('MistralForCausalLM');
  });
});
