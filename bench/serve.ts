/**
 * @module Serving benchmark: prefill and greedy-decode speed of flatgate's onnxruntime decoder against
 * llama.cpp (node-llama-cpp, on our GGUF export) and transformers.js (on our standard ONNX export), on
 * stories260K and a random-weight model of the 124.7M LLaMA shape, at 1 and 2 threads. Also checks that
 * the peers' greedy output equals ours (which validates the GGUF and ONNX exports). Run with
 * `npm run bench:serve [-- --models stories260K,llama-124.7M --repeats 3]`; peers come from
 * `bench/peers-install.sh`. Writes bench/results/serve.json. See bench/README.md.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomModel } from '../test/fixtures/random-model.ts';
import { writeGguf } from '../src/model/gguf.ts';
import { toHfConfig } from '../src/model/hf-config.ts';
import { readLlama2c } from '../src/model/llama2c.ts';
import { Llama2cTokenizer } from '../src/model/tokenizer/llama2c-tokenizer.ts';
import { countParams, type LlamaModel, type Tokenizer } from '../src/model/types.ts';
import { buildDecoderGraph } from '../src/serving/graph/llama.ts';
import { generate } from '../src/serving/generate/generator.ts';
import { createDecoderSession } from '../src/serving/session/local-backend.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const PEERS = join(HERE, '.peers', 'node_modules');
// stories260K and the LLaMA-2 tokenizer are bundled in the repository (fixtures/models, with their licenses)
const MODELS = join(HERE, '..', 'fixtures', 'models');
const PROMPT_TOKENS = 128;
const NEW_TOKENS = 128;
const THREADS = [1, 2];

/** One greedy generation: the new ids and the time (ms from the call) at which each arrived. */
interface Run {
  ids: number[];
  times: number[];
}

/** An engine loaded with one model at one thread count. */
interface Engine {
  generate(prompt: number[], n: number): Promise<Run>;
  close(): Promise<void>;
}

interface Speed {
  prefillTokS: number;
  decodeTokS: number;
}

interface BenchModel {
  name: string;
  model: LlamaModel;
  tokenizer: Tokenizer;
  prompt: number[];
}

const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
/** Timed generations per engine and thread count: more for the tiny model, whose runs take milliseconds. */
const repeatsFor = (m: BenchModel) => Number(arg('repeats', m.model.config.hiddenSize < 256 ? '10' : '3'));
const WANTED = arg('models', 'stories260K,llama-124.7M').split(',');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => performance.now();

/** A 128-token prompt: BOS, then a story text (repeated as needed) cut to length. */
function promptFor(tok: Tokenizer): number[] {
  const text =
    'Once upon a time, in a small village by the sea, there lived a curious girl named Mia. Every morning she ' +
    'walked to the harbour to watch the boats come in, and every evening she told her little brother stories ' +
    'about the fish, the birds and the old sailor who mended nets on the pier. One day a storm came. ';
  let ids: number[] = [];
  for (let t = text; ids.length < PROMPT_TOKENS; t += ' ' + text) ids = tok.encode(t, { bos: true });
  return ids.slice(0, PROMPT_TOKENS);
}

async function loadModels(): Promise<BenchModel[]> {
  const out: BenchModel[] = [];
  if (WANTED.includes('stories260K')) {
    const model = await readLlama2c(join(MODELS, 'stories260K/stories260K.bin'));
    const tokenizer = await Llama2cTokenizer.load(join(MODELS, 'stories260K/tok512.bin'), model.config.vocabSize);
    out.push({ name: 'stories260K', model, tokenizer, prompt: promptFor(tokenizer) });
  }
  if (WANTED.includes('llama-124.7M')) {
    const model = randomModel({
      hiddenSize: 768, intermediateSize: 2048, numLayers: 12, numHeads: 12, numKvHeads: 4, headDim: 64,
      vocabSize: 32000, maxPositions: 2048, seed: 124,
    });
    const tokenizer = await Llama2cTokenizer.load(join(MODELS, 'llama2-tokenizer/tokenizer.bin'), 32000);
    out.push({ name: 'llama-124.7M', model, tokenizer, prompt: promptFor(tokenizer) });
  }
  return out;
}

// ---------------------------------------------------------------- engines

async function ours(m: BenchModel, threads: number): Promise<Engine> {
  const dec = await createDecoderSession(m.model, { threads, provider: 'cpu' });
  return {
    async generate(prompt, n) {
      const run: Run = { ids: [], times: [] };
      const t0 = now();
      const params = { temperature: 0, topP: 1, topK: 0, maxTokens: n, stopIds: [] };
      for await (const t of generate(dec, m.tokenizer, prompt, params)) {
        run.times.push(now() - t0);
        run.ids.push(t.id);
      }
      return run;
    },
    close: () => dec.release(),
  };
}

/** What the bench uses of node-llama-cpp (typed here so the project does not depend on it). */
interface LlamaCppModule {
  getLlama(o: object): Promise<{ loadModel(o: { modelPath: string }): Promise<LlamaCppModel>; dispose(): Promise<void> }>;
  LlamaLogLevel: Record<string, string>;
}
interface LlamaCppModel {
  createContext(o: object): Promise<{
    getSequence(): { evaluate(t: number[], o: object): AsyncGenerator<number>; clearHistory(): Promise<void> };
    dispose(): Promise<void>;
  }>;
  dispose(): Promise<void>;
}

async function llamaCpp(mod: LlamaCppModule, gguf: string, m: BenchModel, threads: number): Promise<Engine> {
  const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: mod.LlamaLogLevel.error, maxThreads: threads });
  const model = await llama.loadModel({ modelPath: gguf });
  const ctx = await model.createContext({
    contextSize: Math.min(m.model.config.maxPositions, 1024), batchSize: PROMPT_TOKENS, threads: { ideal: threads, min: threads }, sequences: 1,
  });
  const seq = ctx.getSequence();
  return {
    async generate(prompt, n) {
      await seq.clearHistory();
      const run: Run = { ids: [], times: [] };
      const t0 = now();
      for await (const id of seq.evaluate(prompt, { temperature: 0 })) {
        run.times.push(now() - t0);
        run.ids.push(id);
        if (run.ids.length >= n) break;
      }
      return run;
    },
    async close() {
      await ctx.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}

/** What the bench uses of @huggingface/transformers. */
interface TransformersModule {
  env: { allowRemoteModels: boolean; allowLocalModels: boolean; localModelPath: string };
  Tensor: new (type: string, data: BigInt64Array, dims: number[]) => unknown;
  AutoModelForCausalLM: {
    from_pretrained(id: string, o: object): Promise<{ generate(o: object): Promise<unknown>; dispose(): Promise<unknown> }>;
  };
}

/** Writes our standard ONNX export as a transformers.js model folder `<root>/<name>`. */
async function writeOnnxFolder(root: string, m: BenchModel): Promise<void> {
  const dir = join(root, m.name);
  await mkdir(join(dir, 'onnx'), { recursive: true });
  const g = buildDecoderGraph(m.model);
  await writeFile(join(dir, 'onnx', 'model.onnx'), g.model);
  await writeFile(join(dir, 'onnx', g.dataFile), g.data);
  await writeFile(join(dir, 'config.json'), JSON.stringify(toHfConfig(m.model.config), null, 2));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(m.tokenizer.toTokenizerJson()));
}

async function transformersJs(mod: TransformersModule, root: string, m: BenchModel, threads: number): Promise<Engine> {
  mod.env.allowRemoteModels = false;
  mod.env.allowLocalModels = true;
  mod.env.localModelPath = root + '/';
  const model = await mod.AutoModelForCausalLM.from_pretrained(m.name, {
    local_files_only: true, dtype: 'fp32', device: 'cpu',
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
  });
  return {
    async generate(prompt, n) {
      const run: Run = { ids: [], times: [] };
      const t0 = now();
      let first = true;
      const streamer = {
        put(value: bigint[][]) {
          if (first) return void (first = false); // the prompt
          run.times.push(now() - t0);
          run.ids.push(Number(value[0][0]));
        },
        end() {},
      };
      const ids = BigInt64Array.from(prompt, BigInt);
      await model.generate({
        input_ids: new mod.Tensor('int64', ids, [1, prompt.length]),
        attention_mask: new mod.Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]),
        max_new_tokens: n, do_sample: false, eos_token_id: null, streamer,
      });
      return run;
    },
    close: async () => void (await model.dispose()),
  };
}

async function importPeer<T>(pkg: string, entry: string): Promise<{ mod: T; version: string } | null> {
  const dir = join(PEERS, pkg);
  if (!existsSync(join(dir, entry))) return null;
  const version = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')).version as string;
  return { mod: (await import(pathToFileURL(join(dir, entry)).href)) as T, version };
}

// ---------------------------------------------------------------- measuring

/** Warms `engine` up, then times `repeats` full generations; returns median speeds and the last run's ids. */
async function measure(engine: Engine, prompt: number[], repeats: number): Promise<Speed & { ids: number[] }> {
  await engine.generate(prompt, 8);
  const prefill: number[] = [];
  const decode: number[] = [];
  let ids: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const run = await engine.generate(prompt, NEW_TOKENS);
    if (run.ids.length !== NEW_TOKENS) throw new Error(`engine produced ${run.ids.length} of ${NEW_TOKENS} tokens`);
    prefill.push(prompt.length / (run.times[0] / 1000));
    decode.push((NEW_TOKENS - 1) / ((run.times[NEW_TOKENS - 1] - run.times[0]) / 1000));
    ids = run.ids;
  }
  return { prefillTokS: median(prefill), decodeTokS: median(decode), ids };
}

type EngineName = 'ours' | 'llama.cpp' | 'transformers.js';
type Results = Partial<Record<EngineName, Record<string, Speed>>>;

const round = (x: number) => Math.round(x * 10) / 10;
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const best = (r: Record<string, Speed>): Speed => ({
  prefillTokS: Math.max(...THREADS.map((t) => r[t].prefillTokS)),
  decodeTokS: Math.max(...THREADS.map((t) => r[t].decodeTokS)),
});

/** Where two greedy outputs first differ, or -1. */
function divergence(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = loadavg().map(round);
  if (loadBefore[0] > 0.5) console.log(`note: load average ${loadBefore.join(' ')} before the run: other processes share the cores and slow every engine`);
  const llamaPeer = await importPeer<LlamaCppModule>('node-llama-cpp', 'dist/index.js');
  const tfPeer = await importPeer<TransformersModule>('@huggingface/transformers', 'dist/transformers.node.mjs');
  if (!llamaPeer || !tfPeer) console.log('peers not installed (run bench/peers-install.sh): measuring ours only for the missing ones');
  const tmp = await mkdtemp(join(tmpdir(), 'flatgate-bench-'));
  const report: Record<string, unknown>[] = [];
  try {
    for (const m of await loadModels()) {
      console.log(`\n${m.name}: ${(countParams(m.model) / 1e6).toFixed(2)}M params, prompt ${m.prompt.length} tokens, ${NEW_TOKENS} new`);
      const results: Results = {};
      const outputs: Partial<Record<EngineName, number[]>> = {};
      const run = async (name: EngineName, make: (t: number) => Promise<Engine>) => {
        results[name] = {};
        for (const t of THREADS) {
          const engine = await make(t);
          try {
            const { ids, ...speed } = await measure(engine, m.prompt, repeatsFor(m));
            results[name]![t] = { prefillTokS: round(speed.prefillTokS), decodeTokS: round(speed.decodeTokS) };
            if (t === 1) outputs[name] = ids;
            console.log(`  ${name.padEnd(16)} ${t} thread(s): prefill ${round(speed.prefillTokS)} tok/s, decode ${round(speed.decodeTokS)} tok/s`);
          } finally {
            await engine.close();
          }
        }
      };
      await run('ours', (t) => ours(m, t));
      if (llamaPeer) {
        const gguf = join(tmp, `${m.name}.gguf`);
        await writeGguf(gguf, m.model, m.tokenizer, { name: m.name });
        await run('llama.cpp', (t) => llamaCpp(llamaPeer.mod, gguf, m, t));
        await rm(gguf);
      }
      if (tfPeer) {
        await writeOnnxFolder(tmp, m);
        await run('transformers.js', (t) => transformersJs(tfPeer.mod, tmp, m, t));
        await rm(join(tmp, m.name), { recursive: true });
      }
      report.push(summarize(m, results, outputs));
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  printTable(report);
  const cpu = cpus();
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}`, loadAverageBefore: loadBefore, loadAverageAfter: loadavg().map(round) },
    settings: { promptTokens: PROMPT_TOKENS, newTokens: NEW_TOKENS, threads: THREADS, warmup: '1 generation of 8 tokens', statistic: 'median', sampling: 'greedy, batch 1' },
    peers: { 'node-llama-cpp': llamaPeer?.version ?? null, '@huggingface/transformers': tfPeer?.version ?? null },
    models: report,
    durationS: round((Date.now() - started) / 1000),
  };
  await mkdir(join(HERE, 'results'), { recursive: true });
  await writeFile(join(HERE, 'results', 'serve.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote bench/results/serve.json (${out.durationS} s)`);
}

function summarize(m: BenchModel, results: Results, outputs: Partial<Record<EngineName, number[]>>): Record<string, unknown> {
  const ratios: Record<string, unknown> = {};
  const greedyMatchesOurs: Record<string, unknown> = {};
  const o = results.ours!;
  for (const peer of ['llama.cpp', 'transformers.js'] as const) {
    const r = results[peer];
    if (!r) continue;
    const per: Record<string, Speed> = {};
    for (const t of THREADS) per[`${t}thread`] = { prefillTokS: ratio(o[t].prefillTokS, r[t].prefillTokS), decodeTokS: ratio(o[t].decodeTokS, r[t].decodeTokS) };
    const [bo, bp] = [best(o), best(r)];
    per.best = { prefillTokS: ratio(bo.prefillTokS, bp.prefillTokS), decodeTokS: ratio(bo.decodeTokS, bp.decodeTokS) };
    ratios[`ours/${peer}`] = per;
    const at = divergence(outputs.ours!, outputs[peer]!);
    greedyMatchesOurs[peer] = at < 0 ? true : { match: false, firstDifferenceAt: at };
  }
  const engines = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { ...v, best: best(v) }]));
  const c = m.model.config;
  return {
    name: m.name,
    params: countParams(m.model),
    shape: { dim: c.hiddenSize, layers: c.numLayers, ffn: c.intermediateSize, heads: c.numHeads, kvHeads: c.numKvHeads, vocab: c.vocabSize, context: c.maxPositions },
    repeats: repeatsFor(m),
    weights: m.name === 'stories260K' ? 'trained (llama2.c stories260K)' : 'random (seeded), fp32',
    engines, ratios, greedyMatchesOurs,
  };
}

function printTable(report: Record<string, unknown>[]): void {
  const rows = [['model', 'engine', 'threads', 'prefill tok/s', 'decode tok/s', 'ours/it prefill', 'ours/it decode']];
  for (const r of report) {
    const engines = r.engines as Record<string, Record<string, Speed>>;
    for (const [name, byThreads] of Object.entries(engines)) {
      for (const [t, s] of Object.entries(byThreads)) {
        const ratio = name === 'ours' ? undefined : (r.ratios as Record<string, Record<string, Speed>>)[`ours/${name}`][t === 'best' ? 'best' : `${t}thread`];
        rows.push([String(r.name), name, t, String(s.prefillTokS), String(s.decodeTokS), ratio ? String(ratio.prefillTokS) : '', ratio ? String(ratio.decodeTokS) : '']);
      }
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  console.log('');
  for (const row of rows) console.log(row.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  for (const r of report) console.log(`${r.name}: greedy output equals ours: ${JSON.stringify(r.greedyMatchesOurs)}`);
}

await main();
