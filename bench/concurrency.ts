/**
 * @module Concurrency benchmark: N greedy streams at once (N = 1, 2, 4, 8) through the HTTP gateway (a
 * child process; continuous batching, and with FLATGATE_MAX_BATCH=1 for the unbatched baseline), against
 * llama.cpp (node-llama-cpp, N sequences in one context) and transformers.js (N concurrent `generate`
 * calls), all in one run, engines interleaved per round. Aggregate tokens/s = tokens of all streams / wall
 * time of the round. Run with `npm run bench:concurrency [-- --model 124m --streams 1,2,4,8 --max-tokens 64
 * --rounds 3 --threads 1,2 --spinning false]`. Writes bench/results/concurrency.json. See bench/README.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApp } from '../src/app.ts';
import { writeGguf } from '../src/model/gguf.ts';
import { toHfConfig } from '../src/model/hf-config.ts';
import type { LoadedModel } from '../src/model/types.ts';
import { AbRouter } from '../src/serving/ab-router.ts';
import { buildDecoderGraph } from '../src/serving/graph/llama.ts';
import { MetricsStore } from '../src/serving/metrics.ts';
import { ModelPool } from '../src/serving/model-pool.ts';
import { benchModel } from './shapes.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const PEERS = join(HERE, '.peers', 'node_modules');
const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const MODEL = arg('model', '124m');
const STREAMS = arg('streams', '1,2,4,8').split(',').map(Number);
const MAX_TOKENS = Number(arg('max-tokens', '64'));
const ROUNDS = Number(arg('rounds', '3'));
const THREADS = arg('threads', `1,${cpus().length}`).split(',').map(Number).filter((t, i, a) => a.indexOf(t) === i);
const ENGINES = arg('engines', 'flatgate,flatgate-unbatched,llama.cpp,transformers.js').split(',');
/** onnxruntime thread spinning in the gateway's sessions (FLATGATE_THREAD_SPINNING; off by default). */
const SPINNING = arg('spinning', 'false') === 'true';
const round = (x: number, d = 1) => Number(x.toFixed(d));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One round: per stream, the arrival times (ms from the round's start) of its tokens. */
type RoundRun = number[][];
/** An engine at one thread count: runs `prompts.length` streams at once. */
interface Engine {
  run(prompts: number[][], n: number): Promise<RoundRun>;
  close(): Promise<void>;
}

/** Distinct prompts of different lengths (16..44 tokens): BOS + text, as token ids. */
function prompts(loaded: LoadedModel, count: number): number[][] {
  const text = 'Once upon a time, in a small village by the sea, there lived a curious girl named Mia who loved boats, birds and stories about the old sailor.';
  const ids = loaded.tokenizer.encode(text, { bos: true });
  return Array.from({ length: count }, (_, i) => {
    const len = Math.min(ids.length, 16 + 4 * i);
    return [ids[0], ...ids.slice(1 + i, len + i)].slice(0, len);
  });
}

// ---------------------------------------------------------------- flatgate through its gateway

/** Child mode: serve the model until stdin closes. */
async function serveChild(): Promise<void> {
  const [threads, maxBatch] = [Number(arg('serve-threads', '1')), Number(arg('serve-batch', '8'))];
  const pool = new ModelPool({ session: { threads, provider: 'cpu', spinning: SPINNING }, limits: { concurrency: maxBatch, queue: 64 } });
  pool.add('bench', await benchModel(MODEL));
  const app = createApp({ pool, metrics: new MetricsStore(), router: new AbRouter(), maxRequestBytes: 1 << 20, log: () => {} });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => {
    console.log(`listening http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

async function flatgate(threads: number, maxBatch: number): Promise<Engine> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', '--model', MODEL,
    '--serve-threads', String(threads), '--serve-batch', String(maxBatch), '--spinning', String(SPINNING)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => l.startsWith('listening ') && resolve(l.slice(10)));
    child.once('exit', (code) => reject(new Error(`gateway child exited with ${code}`)));
  });
  const stream = async (prompt: number[], n: number, t0: number): Promise<number[]> => {
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'bench', prompt, max_tokens: n, temperature: 0, stream: true }),
    });
    if (!res.ok || !res.body) throw new Error(`gateway answered ${res.status}: ${await res.text()}`);
    const times: number[] = [];
    const dec = new TextDecoder();
    let buf = '';
    for await (const bytes of res.body) {
      buf += dec.decode(bytes, { stream: true });
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const data = buf.slice(0, cut).replace(/^data: /, '');
        buf = buf.slice(cut + 2);
        if (data !== '[DONE]' && (JSON.parse(data) as { choices: unknown[] }).choices.length) times.push(performance.now() - t0);
      }
    }
    return times;
  };
  return {
    run: (ps, n) => {
      const t0 = performance.now();
      return Promise.all(ps.map((p) => stream(p, n, t0)));
    },
    close: async () => {
      child.stdin?.end();
      child.kill();
    },
  };
}

// ---------------------------------------------------------------- peers

async function importPeer<T>(pkg: string, entry: string): Promise<T | null> {
  const file = join(PEERS, pkg, entry);
  return existsSync(file) ? ((await import(pathToFileURL(file).href)) as T) : null;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the peers are typed only where the bench uses them */
async function llamaCpp(mod: any, gguf: string, threads: number, sequences: number, ctxPerSeq: number): Promise<Engine> {
  const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: mod.LlamaLogLevel.error, maxThreads: threads });
  const model = await llama.loadModel({ modelPath: gguf });
  const ctx = await model.createContext({ contextSize: sequences * ctxPerSeq, batchSize: 512, threads: { ideal: threads, min: threads }, sequences });
  return {
    run: (ps, n) => {
      const t0 = performance.now();
      return Promise.all(ps.map(async (p) => {
        const seq = ctx.getSequence();
        const times: number[] = [];
        try {
          for await (const _ of seq.evaluate(p, { temperature: 0 })) {
            times.push(performance.now() - t0);
            if (times.length >= n) break;
          }
        } finally {
          seq.dispose();
        }
        return times;
      }));
    },
    close: async () => {
      await ctx.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}

async function transformersJs(mod: any, root: string, threads: number): Promise<Engine> {
  Object.assign(mod.env, { allowRemoteModels: false, allowLocalModels: true, localModelPath: root + '/' });
  const model = await mod.AutoModelForCausalLM.from_pretrained('bench', {
    local_files_only: true, dtype: 'fp32', device: 'cpu', session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
  });
  const one = async (p: number[], n: number, t0: number) => {
    const times: number[] = [];
    let first = true;
    const streamer = { put: () => (first ? (first = false) : times.push(performance.now() - t0)), end() {} };
    await model.generate({
      input_ids: new mod.Tensor('int64', BigInt64Array.from(p, BigInt), [1, p.length]),
      attention_mask: new mod.Tensor('int64', new BigInt64Array(p.length).fill(1n), [1, p.length]),
      max_new_tokens: n, do_sample: false, eos_token_id: null, streamer,
    });
    return times;
  };
  return {
    run: (ps, n) => {
      const t0 = performance.now();
      return Promise.all(ps.map((p) => one(p, n, t0)));
    },
    close: async () => void (await model.dispose()),
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

// ---------------------------------------------------------------- measuring

interface Cell {
  engine: string;
  threads: number;
  streams: number;
  /** Median over rounds of all streams' tokens / the round's wall time. */
  aggregate_tok_s: number;
  /** Median over streams and rounds of a stream's tokens after its first / the time they took. */
  per_stream_decode_tok_s: number;
  ttft_ms_p50: number;
  tokens: number;
}

function cellOf(engine: string, threads: number, streams: number, runs: RoundRun[]): Cell {
  const aggregate = runs.map((r) => r.reduce((s, t) => s + t.length, 0) / (Math.max(...r.map((t) => t.at(-1) ?? 0)) / 1000));
  const perStream = runs.flatMap((r) => r.filter((t) => t.length > 1).map((t) => (t.length - 1) / ((t.at(-1)! - t[0]) / 1000)));
  return {
    engine, threads, streams,
    aggregate_tok_s: round(median(aggregate)),
    per_stream_decode_tok_s: round(median(perStream)),
    ttft_ms_p50: round(median(runs.flatMap((r) => r.map((t) => t[0] ?? NaN)))),
    tokens: runs.reduce((s, r) => s + r.reduce((a, t) => a + t.length, 0), 0),
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = loadavg().map((x) => round(x, 2));
  const loaded = await benchModel(MODEL);
  const ps = prompts(loaded, Math.max(...STREAMS));
  const root = await mkdtemp(join(tmpdir(), 'fg-conc-'));
  const cells: Cell[] = [];
  const skipped: string[] = [];
  try {
    // engine factories per (threads, streams); peers get their model files once
    const factories: Record<string, (threads: number, streams: number) => Promise<Engine>> = {};
    if (ENGINES.includes('flatgate')) factories.flatgate = (t) => flatgate(t, Math.max(...STREAMS));
    if (ENGINES.includes('flatgate-unbatched')) factories['flatgate-unbatched'] = (t) => flatgate(t, 1);
    const llamaMod = ENGINES.includes('llama.cpp') ? await importPeer('node-llama-cpp', 'dist/index.js') : null;
    if (llamaMod) {
      const gguf = join(root, 'model.gguf');
      await writeGguf(gguf, loaded.model, loaded.tokenizer);
      factories['llama.cpp'] = (t, s) => llamaCpp(llamaMod, gguf, t, s, 64 + MAX_TOKENS + 64);
    } else if (ENGINES.includes('llama.cpp')) skipped.push('llama.cpp (run bench/peers-install.sh)');
    const tfMod = ENGINES.includes('transformers.js') ? await importPeer('@huggingface/transformers', 'dist/transformers.node.mjs') : null;
    if (tfMod) {
      const dir = join(root, 'bench');
      await mkdir(join(dir, 'onnx'), { recursive: true });
      const g = buildDecoderGraph(loaded.model);
      await writeFile(join(dir, 'onnx', 'model.onnx'), g.model);
      await writeFile(join(dir, 'onnx', g.dataFile), g.data);
      await writeFile(join(dir, 'config.json'), JSON.stringify(toHfConfig(loaded.model.config)));
      await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(loaded.tokenizer.toTokenizerJson()));
      factories['transformers.js'] = (t) => transformersJs(tfMod, root, t);
    } else if (ENGINES.includes('transformers.js')) skipped.push('transformers.js (run bench/peers-install.sh)');

    for (const threads of THREADS) {
      for (const streams of STREAMS) {
        const engines: [string, Engine][] = [];
        for (const [name, make] of Object.entries(factories)) engines.push([name, await make(threads, streams)]);
        const runs = new Map<string, RoundRun[]>(engines.map(([n]) => [n, []]));
        for (const [, e] of engines) await e.run(ps.slice(0, streams), 4); // warm-up
        for (let r = 0; r < ROUNDS; r++) {
          // rotate the order each round so drifting background load hits every engine alike
          for (let k = 0; k < engines.length; k++) {
            const [name, e] = engines[(k + r) % engines.length];
            runs.get(name)!.push(await e.run(ps.slice(0, streams), MAX_TOKENS));
          }
        }
        for (const [name, e] of engines) {
          cells.push(cellOf(name, threads, streams, runs.get(name)!));
          await e.close();
        }
        console.log(`threads ${threads}, ${streams} streams: ${cells.slice(-engines.length).map((c) => `${c.engine} ${c.aggregate_tok_s}`).join(', ')} tok/s`);
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }

  // best thread count per engine and stream count; ratios against one stream and against llama.cpp
  const best = new Map<string, Cell>();
  for (const c of cells) {
    const k = `${c.engine}@${c.streams}`;
    if (!best.has(k) || best.get(k)!.aggregate_tok_s < c.aggregate_tok_s) best.set(k, c);
  }
  const summary = [...best.values()].map((c) => ({
    engine: c.engine, streams: c.streams, threads: c.threads, aggregate_tok_s: c.aggregate_tok_s, per_stream_decode_tok_s: c.per_stream_decode_tok_s, ttft_ms_p50: c.ttft_ms_p50,
    vs_one_stream: best.get(`${c.engine}@1`) ? round(c.aggregate_tok_s / best.get(`${c.engine}@1`)!.aggregate_tok_s, 2) : null,
    vs_llama_cpp: best.get(`llama.cpp@${c.streams}`) ? round(c.aggregate_tok_s / best.get(`llama.cpp@${c.streams}`)!.aggregate_tok_s, 2) : null,
  }));
  const head = ['engine', 'streams', 'best thr', 'agg tok/s', 'per-stream tok/s', 'TTFT p50 ms', 'x 1 stream', 'x llama.cpp'];
  const lines = [head, ...summary.map((s) => [s.engine, s.streams, s.threads, s.aggregate_tok_s, s.per_stream_decode_tok_s, s.ttft_ms_p50, s.vs_one_stream ?? '-', s.vs_llama_cpp ?? '-'].map(String))];
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  console.log();
  for (const [i, l] of lines.entries()) {
    console.log(l.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  if (skipped.length) console.log(`\nskipped: ${skipped.join('; ')}`);
  const cpu = cpus();
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 2 ** 30), node: process.version, loadAverageBefore: loadBefore, loadAverageAfter: loadavg().map((x) => round(x, 2)) },
    settings: { model: MODEL, spinning: SPINNING, streams: STREAMS, max_tokens: MAX_TOKENS, rounds: ROUNDS, threads: THREADS, engines: ENGINES, skipped, prompt_tokens: ps.map((p) => p.length), sampling: 'greedy' },
    summary,
    cells,
    durationS: round((Date.now() - started) / 1000),
  };
  await mkdir(join(HERE, 'results'), { recursive: true });
  await writeFile(join(HERE, 'results', 'concurrency.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote bench/results/concurrency.json (${out.durationS} s)`);
}

await (args.includes('--serve') ? serveChild() : main());
