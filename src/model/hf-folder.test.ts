import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomModel, type RandomModelOptions } from '../../test/fixtures/random-model.ts';
import { InvalidModelFile, UnsupportedModel } from '../errors.ts';
import { readHfWeights, writeHfWeights } from './hf-folder.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from './safetensors.ts';
import type { LlamaModel } from './types.ts';

let root: string;
let n = 0;
const fresh = () => join(root, `m${n++}`);
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'flatgate-hf-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Every float32 array of a model, flattened in a fixed order (for tolerance checks). */
function arrays(m: LlamaModel): Float32Array[] {
  const out = [m.embed.data, m.norm, ...(m.lmHead ? [m.lmHead.data] : [])];
  for (const l of m.layers) {
    out.push(l.attnNorm, l.q.data, l.k.data, l.v.data, l.o.data, l.mlpNorm, l.gate.data, l.up.data, l.down.data);
    for (const b of [l.qBias, l.kBias, l.vBias]) if (b) out.push(b);
  }
  return out;
}

/** Rewrites a safetensors file through `edit` (F32). */
async function editWeights(file: string, edit: (t: Map<string, { shape: number[]; data: Float32Array }>) => void) {
  const t = await readSafetensors(file);
  edit(t);
  await writeSafetensors(file, [...t].map(([name, { shape, data }]) => ({ name, dtype: 'F32' as const, shape, data })));
}

describe('writeHfWeights / readHfWeights round trip', () => {
  const cases: [string, RandomModelOptions][] = [
    ['GQA llama', {}],
    ['MHA llama', { numKvHeads: 4, seed: 2 }],
    ['tied llama', { tieWordEmbeddings: true, seed: 3 }],
    ['llama with attention_bias', { qkvBias: true, seed: 4 }],
    ['qwen2 (biases, tied)', { architecture: 'Qwen2ForCausalLM', tieWordEmbeddings: true, seed: 5 }],
    ['mistral with sliding window', { architecture: 'MistralForCausalLM', slidingWindow: 32, numKvHeads: 1, seed: 6 }],
    ['head_dim not hidden/heads', { headDim: 8, numLayers: 3, seed: 7 }],
  ];

  it.each(cases)('%s: exact in F32', async (_name, opts) => {
    const model = randomModel(opts);
    const dir = fresh();
    await writeHfWeights(dir, model);
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
    const back = await readHfWeights(dir);
    expect(back).toEqual(model);
  });

  it.each(cases)('%s: within half-precision rounding in F16 and BF16', async (_name, opts) => {
    const model = randomModel(opts);
    for (const [dtype, ulp] of [['F16', 2 ** -11], ['BF16', 2 ** -8]] as const) {
      const dir = fresh();
      await writeHfWeights(dir, model, { dtype });
      const back = await readHfWeights(dir);
      expect(back.config).toEqual({ ...model.config, dtype });
      const [a, b] = [arrays(model), arrays(back)];
      expect(b.map((x) => x.length)).toEqual(a.map((x) => x.length));
      for (let i = 0; i < a.length; i++) {
        for (let j = 0; j < a[i].length; j++) {
          if (Math.abs(a[i][j] - b[i][j]) > Math.abs(a[i][j]) * ulp + 2 ** -24) throw new Error(`${dtype} array ${i}[${j}]: ${a[i][j]} vs ${b[i][j]}`);
        }
      }
    }
  });

  it('shards when over maxShardBytes, with an index, and reads the shards back exactly', async () => {
    const model = randomModel({ numLayers: 3, seed: 9 });
    const dir = fresh();
    await writeHfWeights(dir, model, { maxShardBytes: 60_000 });
    const files = (await readdir(dir)).sort();
    const shards = files.filter((f) => f.startsWith('model-'));
    expect(shards.length).toBeGreaterThan(2);
    expect(shards[0]).toBe(`model-00001-of-0000${shards.length}.safetensors`);
    expect(files).toContain('model.safetensors.index.json');
    expect(files).not.toContain('model.safetensors');
    const index = JSON.parse(await readFile(join(dir, 'model.safetensors.index.json'), 'utf8'));
    let bytes = 0;
    for (const s of shards) {
      const h = await readSafetensorsHeader(join(dir, s));
      expect(h.metadata).toEqual({ format: 'pt' });
      for (const e of h.entries) {
        expect(index.weight_map[e.name]).toBe(s);
        bytes += e.end - e.begin;
      }
      const size = h.entries.reduce((a, e) => a + e.end - e.begin, 0);
      expect(size <= 60_000 || h.entries.length === 1).toBe(true);
    }
    expect(index.metadata.total_size).toBe(bytes);
    expect(Object.keys(index.weight_map).length).toBe(9 * 3 + 3);
    expect(await readHfWeights(dir)).toEqual(model);

    await writeHfWeights(dir, model);
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
  });
});

describe('weights read on access', () => {
  it('give the same model, read a matrix again once no copy is held, and write the same files', async () => {
    const model = randomModel({ numLayers: 3, seed: 10 });
    const dir = fresh();
    await writeHfWeights(dir, model, { dtype: 'BF16', maxShardBytes: 60_000 });
    const eager = await readHfWeights(dir);
    const lazy = await readHfWeights(dir, { onAccess: true });
    // toEqual reads every getter: the same values, config and structure
    expect(lazy).toEqual(eager);
    // a spread copies the values, not the getter
    const copy = { ...lazy.layers[1].q };
    expect(Object.getOwnPropertyDescriptor(copy, 'data')?.get).toBeUndefined();
    expect(copy.data).toEqual(eager.layers[1].q.data);
    // while a copy is held, access returns that copy (no second read)
    const held = lazy.layers[0].gate.data;
    expect(lazy.layers[0].gate.data).toBe(held);
    // written back from the lazy model: the same files, byte for byte
    const [a, b] = [fresh(), fresh()];
    await writeHfWeights(a, eager, { maxShardBytes: 60_000 });
    await writeHfWeights(b, lazy, { maxShardBytes: 60_000 });
    const files = (await readdir(a)).sort();
    expect((await readdir(b)).sort()).toEqual(files);
    for (const f of files) expect(Buffer.compare(await readFile(join(a, f)), await readFile(join(b, f))), f).toBe(0);
  });
});

describe('the files written', () => {
  it('uses HF tensor names and config fields', async () => {
    const model = randomModel({ numLayers: 1, qkvBias: true });
    const dir = fresh();
    await writeHfWeights(dir, model, { dtype: 'BF16' });
    const names = (await readSafetensorsHeader(join(dir, 'model.safetensors'))).entries.map((e) => e.name);
    const p = 'model.layers.0.';
    expect(names).toEqual([
      'model.embed_tokens.weight',
      `${p}input_layernorm.weight`,
      `${p}self_attn.q_proj.weight`, `${p}self_attn.k_proj.weight`, `${p}self_attn.v_proj.weight`, `${p}self_attn.o_proj.weight`,
      `${p}self_attn.q_proj.bias`, `${p}self_attn.k_proj.bias`, `${p}self_attn.v_proj.bias`, `${p}self_attn.o_proj.bias`,
      `${p}post_attention_layernorm.weight`,
      `${p}mlp.gate_proj.weight`, `${p}mlp.up_proj.weight`, `${p}mlp.down_proj.weight`,
      'model.norm.weight',
      'lm_head.weight',
    ]);
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 64, intermediate_size: 96, num_hidden_layers: 1,
      num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, vocab_size: 100, max_position_embeddings: 128,
      attention_bias: true, tie_word_embeddings: false, torch_dtype: 'bfloat16', hidden_act: 'silu',
    });
    const gen = JSON.parse(await readFile(join(dir, 'generation_config.json'), 'utf8'));
    expect(gen).toMatchObject({ bos_token_id: 1, eos_token_id: 2 });
  });
});

describe('readHfWeights rejections and leniencies', () => {
  async function written(opts: RandomModelOptions = {}) {
    const dir = fresh();
    await writeHfWeights(dir, randomModel({ numLayers: 2, ...opts }));
    return { dir, weights: join(dir, 'model.safetensors') };
  }
  const fails = async (p: Promise<unknown>) => p.then(() => expect.unreachable('should have thrown'), (e: Error) => e);

  it('names a missing tensor', async () => {
    const { dir, weights } = await written();
    await editWeights(weights, (t) => t.delete('model.layers.1.mlp.up_proj.weight'));
    const err = await fails(readHfWeights(dir));
    expect(err).toBeInstanceOf(InvalidModelFile);
    expect(err.message).toContain("'model.layers.1.mlp.up_proj.weight' is missing");
  });

  it('names a tensor with the wrong shape', async () => {
    const { dir } = await written();
    const cfgPath = join(dir, 'config.json');
    const cfg = JSON.parse(await readFile(cfgPath, 'utf8'));
    await writeFile(cfgPath, JSON.stringify({ ...cfg, intermediate_size: 80 }));
    const err = await fails(readHfWeights(dir));
    expect(err).toBeInstanceOf(InvalidModelFile);
    expect(err.message).toMatch(/'model\.layers\.0\.mlp\.gate_proj\.weight' has shape \[96, 64\], config\.json implies \[80, 64\]/);
  });

  it('rejects unexpected tensors but ignores rotary inv_freq buffers', async () => {
    const { dir, weights } = await written();
    await editWeights(weights, (t) => t.set('model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [8], data: new Float32Array(8) }));
    await readHfWeights(dir);
    await editWeights(weights, (t) => t.set('model.layers.2.input_layernorm.weight', { shape: [64], data: new Float32Array(64) }));
    expect(await fails(readHfWeights(dir))).toBeInstanceOf(UnsupportedModel);
  });

  it('treats a missing lm_head as tied embeddings', async () => {
    const { dir, weights } = await written();
    await editWeights(weights, (t) => t.delete('lm_head.weight'));
    const m = await readHfWeights(dir);
    expect(m.lmHead).toBe(null);
    expect(m.config.tieWordEmbeddings).toBe(true);
  });

  it('rejects a non-zero Llama o_proj bias', async () => {
    const { dir, weights } = await written({ qkvBias: true });
    await editWeights(weights, (t) => t.get('model.layers.0.self_attn.o_proj.bias')!.data.fill(0.5));
    expect(await fails(readHfWeights(dir))).toBeInstanceOf(UnsupportedModel);
  });

  it('rejects a folder without weights or config, a bad index and a missing shard', async () => {
    const { dir, weights } = await written();
    await rm(weights);
    expect((await fails(readHfWeights(dir))).message).toContain('model.safetensors');
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: '../evil.safetensors' } }));
    expect((await fails(readHfWeights(dir))).message).toContain('invalid shard file');
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: 'model-00001-of-00002.safetensors' } }));
    const missing = await fails(readHfWeights(dir));
    expect(missing).toBeInstanceOf(InvalidModelFile);
    expect(missing.message).toContain('does not exist');
    await writeFile(join(dir, 'model.safetensors.index.json'), '{not json');
    expect(await fails(readHfWeights(dir))).toBeInstanceOf(InvalidModelFile);
    await rm(join(dir, 'config.json'));
    const noConfig = await fails(readHfWeights(dir));
    expect(noConfig).toBeInstanceOf(InvalidModelFile);
    expect(noConfig.message).toContain('config.json');
  });
});
