/**
 * @module Hugging Face checkpoint folders: config.json plus model.safetensors, or shards with
 * model.safetensors.index.json. Reading checks every tensor the config needs (name and shape) before
 * loading any data; writing produces what transformers' `save_pretrained` does (tokenizer files aside).
 */
import { readJsonFile } from './read-json.ts';
import { access, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InvalidModelFile, InvalidRequest, UnsupportedModel } from '../errors.ts';
import { parseHfConfig, toHfConfig } from './hf-config.ts';
import { readSafetensors, readSafetensorsHeader, readTensorSync, writeSafetensors, type SafeTensor, type TensorToWrite } from './safetensors.ts';
import type { DType, LayerWeights, LlamaModel, Matrix, ModelConfig } from './types.ts';

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
const SHARD = /^model-\d{5}-of-\d{5}\.safetensors$/;

/** transformers' default `max_shard_size` ("5GB"). */
export const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;

/** Options of {@link writeHfWeights}. */
export interface WriteHfOptions {
  /** Storage dtype (default: the model's `config.dtype`). */
  dtype?: DType;
  /** Split into shards (plus an index) when the weights exceed this many bytes. */
  maxShardBytes?: number;
}

/** HF names of layer `i`'s tensors. */
export function hfLayerNames(i: number) {
  const p = `model.layers.${i}.`;
  return {
    attnNorm: `${p}input_layernorm.weight`,
    q: `${p}self_attn.q_proj.weight`,
    k: `${p}self_attn.k_proj.weight`,
    v: `${p}self_attn.v_proj.weight`,
    o: `${p}self_attn.o_proj.weight`,
    qBias: `${p}self_attn.q_proj.bias`,
    kBias: `${p}self_attn.k_proj.bias`,
    vBias: `${p}self_attn.v_proj.bias`,
    oBias: `${p}self_attn.o_proj.bias`,
    mlpNorm: `${p}post_attention_layernorm.weight`,
    gate: `${p}mlp.gate_proj.weight`,
    up: `${p}mlp.up_proj.weight`,
    down: `${p}mlp.down_proj.weight`,
  };
}

/**
 * Every tensor `config` needs, with its shape, in HF order; `lm_head.weight` only when untied. A Llama
 * with `attention_bias` also has o_proj biases (flatgate requires them to be zero; readers accept them absent).
 */
export function hfTensorShapes(config: ModelConfig): Map<string, number[]> {
  const { hiddenSize: D, intermediateSize: I, vocabSize: V } = config;
  const qDim = config.numHeads * config.headDim;
  const kvDim = config.numKvHeads * config.headDim;
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [V, D]]]);
  for (let i = 0; i < config.numLayers; i++) {
    const n = hfLayerNames(i);
    shapes.set(n.attnNorm, [D]).set(n.q, [qDim, D]).set(n.k, [kvDim, D]).set(n.v, [kvDim, D]).set(n.o, [D, qDim]);
    if (config.qkvBias) shapes.set(n.qBias, [qDim]).set(n.kBias, [kvDim]).set(n.vBias, [kvDim]);
    if (config.qkvBias && config.architecture === 'LlamaForCausalLM') shapes.set(n.oBias, [D]);
    shapes.set(n.mlpNorm, [D]).set(n.gate, [I, D]).set(n.up, [I, D]).set(n.down, [D, I]);
  }
  shapes.set('model.norm.weight', [D]);
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [V, D]);
  return shapes;
}

const exists = (path: string) => access(path).then(() => true, () => false);

const readJson = (path: string) => readJsonFile(path);

/** The safetensors files of a folder: the single file, or the shards its index names. */
async function weightFiles(dir: string): Promise<string[]> {
  if (await exists(join(dir, SINGLE))) return [join(dir, SINGLE)];
  const indexPath = join(dir, INDEX);
  if (!(await exists(indexPath))) {
    if ((await exists(join(dir, 'pytorch_model.bin'))) || (await exists(join(dir, 'pytorch_model.bin.index.json')))) {
      throw new UnsupportedModel(`${dir}: PyTorch .bin checkpoints are not supported; save the model with safetensors`);
    }
    throw new InvalidModelFile(dir, `has neither ${SINGLE} nor ${INDEX}`);
  }
  const index = (await readJson(indexPath)) as { weight_map?: unknown } | null;
  const map = index?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new InvalidModelFile(indexPath, 'has no weight_map object');
  const shards = new Set<string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard !== basename(shard) || shard === '..' || !shard.endsWith('.safetensors')) {
      throw new InvalidModelFile(indexPath, `weight_map entry '${name}' names an invalid shard file ${JSON.stringify(shard)}`);
    }
    shards.add(shard);
  }
  return [...shards].map((s) => join(dir, s));
}

const isIgnorable = (name: string) => name.endsWith('.rotary_emb.inv_freq');

/**
 * Reads a Hugging Face checkpoint folder into a float32 LlamaModel. Checks every tensor the config needs
 * (missing, wrong shape, unexpected ones) from the headers before reading data. Rotary `inv_freq`
 * buffers are ignored; a missing `lm_head.weight` means tied embeddings; `config.dtype` becomes the
 * stored dtype of the embeddings.
 *
 * With `onAccess`, the matrices are read from their file each time their `data` is asked for and no
 * one still holds the last copy (a WeakRef): a job that streams the model block by block then keeps
 * about one layer of float32 weights resident instead of all of them. The folder must stay in place,
 * unchanged, while the model is in use.
 * @example const model = await readHfWeights('/models/TinyLlama');
 */
export async function readHfWeights(dir: string, opts: { onAccess?: boolean } = {}): Promise<LlamaModel> {
  const { config, files, needed } = await checkHfWeights(dir);
  const tensors = new Map<string, SafeTensor>();
  for (const file of files) {
    if (!opts.onAccess) {
      for (const [name, t] of await readSafetensors(file, { only: (n) => needed.has(n) })) tensors.set(name, t);
      continue;
    }
    const header = await readSafetensorsHeader(file);
    for (const e of header.entries) {
      if (!needed.has(e.name)) continue;
      // vectors (norms, biases) are small: read now; matrices on access
      if (e.shape.length < 2) tensors.set(e.name, { dtype: e.dtype as DType, shape: e.shape, data: readTensorSync(file, header, e) });
      else tensors.set(e.name, readOnAccess(e.dtype as DType, e.shape, () => readTensorSync(file, header, e)));
    }
  }
  return assemble(config, tensors);
}

/** A tensor whose `data` (an own, enumerable getter, so that spreads copy the values) is read when needed. */
function readOnAccess(dtype: DType, shape: number[], read: () => Float32Array): SafeTensor {
  let last: WeakRef<Float32Array> | null = null;
  return {
    dtype,
    shape,
    get data() {
      let d = last?.deref();
      if (!d) {
        d = read();
        last = new WeakRef(d);
      }
      return d;
    },
  };
}

/**
 * Every check of {@link readHfWeights} that needs no tensor data: config.json, the safetensors headers,
 * and each tensor's presence and shape. Cheap for any model size (uploads are validated this way).
 */
export async function checkHfWeights(dir: string): Promise<{ config: ModelConfig; files: string[]; needed: Map<string, number[]> }> {
  const configPath = join(dir, 'config.json');
  const config = parseHfConfig(await readJson(configPath), configPath);
  const files = await weightFiles(dir);
  const where = new Map<string, { file: string; shape: number[]; dtype: string }>();
  for (const file of files) {
    for (const e of (await readSafetensorsHeader(file)).entries) {
      const prev = where.get(e.name);
      if (prev) throw new InvalidModelFile(file, `tensor '${e.name}' is also in ${prev.file}`);
      where.set(e.name, { file, shape: e.shape, dtype: e.dtype });
    }
  }
  if (!config.tieWordEmbeddings && !where.has('lm_head.weight')) config.tieWordEmbeddings = true;
  const needed = hfTensorShapes(config);
  const optional = new Set<string>(config.tieWordEmbeddings ? ['lm_head.weight'] : []);
  for (const [name, shape] of needed) {
    const got = where.get(name);
    if (!got && name.endsWith('o_proj.bias')) continue;
    if (!got) throw new InvalidModelFile(dir, `tensor '${name}' is missing (config.json needs it)`);
    if (got.shape.join() !== shape.join()) {
      throw new InvalidModelFile(got.file, `tensor '${name}' has shape [${got.shape.join(', ')}], config.json implies [${shape.join(', ')}]`);
    }
  }
  for (const [name, { file }] of where) {
    if (!needed.has(name) && !optional.has(name) && !isIgnorable(name)) {
      throw new UnsupportedModel(`${file}: unexpected tensor '${name}' for ${config.architecture} with ${config.numLayers} layers`);
    }
  }
  return { config, files, needed };
}

function assemble(config: ModelConfig, tensors: Map<string, SafeTensor>): LlamaModel {
  const vec = (name: string) => tensors.get(name)!.data;
  const mat = (name: string): Matrix => {
    const t = tensors.get(name)!;
    // a tensor read on access stays so: its matrix's `data` is the same getter
    if (Object.getOwnPropertyDescriptor(t, 'data')?.get) {
      return Object.defineProperties({ rows: t.shape[0], cols: t.shape[1] } as Matrix, { data: { get: () => t.data, enumerable: true } });
    }
    return { rows: t.shape[0], cols: t.shape[1], data: t.data };
  };
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const n = hfLayerNames(i);
    const oBias = tensors.get(n.oBias);
    if (oBias && oBias.data.some((x) => x !== 0)) throw new UnsupportedModel(`tensor '${n.oBias}' is non-zero; o_proj biases are not supported`);
    const layer: LayerWeights = {
      attnNorm: vec(n.attnNorm), q: mat(n.q), k: mat(n.k), v: mat(n.v), o: mat(n.o),
      mlpNorm: vec(n.mlpNorm), gate: mat(n.gate), up: mat(n.up), down: mat(n.down),
    };
    if (config.qkvBias) Object.assign(layer, { qBias: vec(n.qBias), kBias: vec(n.kBias), vBias: vec(n.vBias) });
    layers.push(layer);
  }
  const embed = mat('model.embed_tokens.weight');
  config.dtype = tensors.get('model.embed_tokens.weight')!.dtype;
  const lmHead = config.tieWordEmbeddings ? null : mat('lm_head.weight');
  return { config, embed, layers, norm: vec('model.norm.weight'), lmHead };
}

/** The config a model is written with: tying from `lmHead`, biases wherever the layers or HF need them. */
function configToWrite(model: LlamaModel, dtype: DType): ModelConfig {
  const hasBias = model.layers.some((l) => l.qBias || l.kBias || l.vBias);
  const qkvBias = model.config.qkvBias || hasBias || model.config.architecture === 'Qwen2ForCausalLM';
  return { ...model.config, dtype, qkvBias, tieWordEmbeddings: model.lmHead === null, numLayers: model.layers.length };
}

/** HF-named tensors of `model` in HF order, checked against `config` (zeros for absent required biases). */
function tensorsToWrite(model: LlamaModel, config: ModelConfig): TensorToWrite[] {
  const D = config.hiddenSize;
  const qDim = config.numHeads * config.headDim;
  const kvDim = config.numKvHeads * config.headDim;
  // getters, so that weights read on access are read one tensor at a time as the file is written
  const values = new Map<string, { readonly data: Float32Array; shape: number[] }>();
  const mat = (name: string, m: Matrix) => values.set(name, { get data() { return m.data; }, shape: [m.rows, m.cols] });
  const vec = (name: string, v: Float32Array) => values.set(name, { data: v, shape: [v.length] });
  mat('model.embed_tokens.weight', model.embed);
  model.layers.forEach((l, i) => {
    const n = hfLayerNames(i);
    for (const key of ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const) mat(n[key], l[key]);
    vec(n.attnNorm, l.attnNorm);
    vec(n.mlpNorm, l.mlpNorm);
    vec(n.qBias, l.qBias ?? new Float32Array(qDim));
    vec(n.kBias, l.kBias ?? new Float32Array(kvDim));
    vec(n.vBias, l.vBias ?? new Float32Array(kvDim));
    vec(n.oBias, new Float32Array(D));
  });
  vec('model.norm.weight', model.norm);
  if (model.lmHead) mat('lm_head.weight', model.lmHead);
  return [...hfTensorShapes(config)].map(([name, shape]) => {
    const t = values.get(name)!;
    if (t.shape.join() !== shape.join()) {
      throw new InvalidRequest(`cannot write '${name}': shape [${t.shape.join(', ')}], config implies [${shape.join(', ')}]`);
    }
    return { name, dtype: config.dtype, shape, get data() { return t.data; } };
  });
}

/** Splits tensors into shards of at most `max` bytes (a tensor larger than `max` gets its own shard). */
function shard(tensors: TensorToWrite[], max: number): TensorToWrite[][] {
  const shards: TensorToWrite[][] = [[]];
  let size = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * (t.dtype === 'F32' ? 4 : 2);
    if (size + bytes > max && shards[shards.length - 1].length > 0) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(t);
    size += bytes;
  }
  return shards;
}

/**
 * Writes `model` as a Hugging Face checkpoint folder: config.json, generation_config.json and
 * model.safetensors, or model-0000i-of-0000n.safetensors shards plus model.safetensors.index.json when
 * the weights exceed `maxShardBytes`. Weight files left by an earlier write are removed first.
 * @example await writeHfWeights('/tmp/out', model, { dtype: 'F16' });
 */
export async function writeHfWeights(dir: string, model: LlamaModel, opts: WriteHfOptions = {}): Promise<void> {
  const config = configToWrite(model, opts.dtype ?? model.config.dtype);
  const hfConfig = toHfConfig(config);
  const tensors = tensorsToWrite(model, config);
  await mkdir(dir, { recursive: true });
  for (const f of await readdir(dir)) {
    if (f === SINGLE || f === INDEX || SHARD.test(f)) await rm(join(dir, f), { force: true });
  }
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(hfConfig, null, 2)}\n`);
  const generation = { _from_model_config: true, bos_token_id: config.bosTokenId, eos_token_id: config.eosTokenId };
  await writeFile(join(dir, 'generation_config.json'), `${JSON.stringify(generation, null, 2)}\n`);
  const metadata = { format: 'pt' };
  const shards = shard(tensors, opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES);
  if (shards.length === 1) return writeSafetensors(join(dir, SINGLE), tensors, metadata);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (const [i, part] of shards.entries()) {
    const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    await writeSafetensors(join(dir, name), part, metadata);
    for (const t of part) {
      weightMap[t.name] = name;
      totalSize += t.shape.reduce((a, b) => a * b, 1) * (t.dtype === 'F32' ? 4 : 2);
    }
  }
  const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  await writeFile(join(dir, INDEX), `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sorted }, null, 2)}\n`);
}
