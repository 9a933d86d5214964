/**
 * @module Gateway benchmark: concurrent streaming completions over HTTP against a real gateway (a child
 * process serving stories260K and its one-block-removed variant, as the API tests do), against the same
 * prompts run through the bare engine (`completeStream` under the same per-variant scheduler, no HTTP)
 * in this process. Reports requests/s, tokens/s, TTFT and end-to-end p50/p95/p99 and the gateway's
 * overhead. Run with `npm run bench:gateway [-- --requests 96 --max-tokens 64 --concurrency 1,4,8]`.
 * Loopback only; bounded by request counts and a time limit. Writes bench/results/gateway.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/model/load.ts';
import { DEFAULT_BENCH_PROMPTS } from '../src/serving/benchmark.ts';
import { completeStream } from '../src/serving/completion.ts';
import { percentiles } from '../src/serving/metrics.ts';
import { ModelPool } from '../src/serving/model-pool.ts';
import { startGateway, STORIES, VARIANT, withoutBlock } from '../test/api/gateway-server.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const REQUESTS = Number(arg('requests', '96'));
const MAX_TOKENS = Number(arg('max-tokens', '64'));
const LEVELS = arg('concurrency', '1,4,8').split(',').map(Number);
const MODELS = ['stories260K', VARIANT];
/** Each measured phase stops issuing requests after this long; the whole run is killed after LIMIT_MS. */
const PHASE_MS = 5_000;
const LIMIT_MS = 150_000;
const round = (x: number | null, d = 2) => (x === null ? null : Number(x.toFixed(d)));

/** One request's client-side timings (ms from its start) and token count. */
interface Sample {
  ttft: number | null;
  e2e: number;
  tokens: number;
  ok: boolean;
}
type Runner = (model: string, prompt: string) => Promise<Sample>;

/** Streams one completion over HTTP and parses the SSE events as they arrive. */
function httpRunner(url: string): Runner {
  return async (model, prompt) => {
    const t0 = performance.now();
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt, max_tokens: MAX_TOKENS, temperature: 0, stream: true, stream_options: { include_usage: true } }),
    });
    if (!res.ok || !res.body) return { ttft: null, e2e: performance.now() - t0, tokens: 0, ok: false };
    const decoder = new TextDecoder();
    let buf = '';
    let ttft: number | null = null;
    let tokens = 0;
    let done = false;
    for await (const bytes of res.body) {
      buf += decoder.decode(bytes, { stream: true });
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const data = line.slice(6);
          if (data === '[DONE]') { done = true; continue; }
          const chunk = JSON.parse(data) as { choices: { text: string }[]; usage?: { completion_tokens: number } | null };
          if (ttft === null && chunk.choices[0]?.text) ttft = performance.now() - t0;
          if (chunk.usage) tokens = chunk.usage.completion_tokens;
        }
      }
    }
    return { ttft, e2e: performance.now() - t0, tokens, ok: done };
  };
}

/** The same completion straight through the engine: scheduler slot, then `completeStream`. */
function engineRunner(pool: ModelPool): Runner {
  return async (model, prompt) => {
    const served = pool.get(model);
    const t0 = performance.now();
    const slot = await served.scheduler.acquire();
    let ttft: number | null = null;
    let tokens = 0;
    try {
      for await (const _ of completeStream(served, { prompt, maxTokens: MAX_TOKENS, temperature: 0, topP: 1, topK: 0, stop: [] })) {
        if (ttft === null) ttft = performance.now() - t0;
        tokens++;
      }
    } finally {
      slot.release();
    }
    return { ttft, e2e: performance.now() - t0, tokens, ok: true };
  };
}

/** `requests` requests from `concurrency` closed-loop clients, cycling through the prompts. */
async function drive(run: Runner, model: string, concurrency: number, requests: number): Promise<{ samples: Sample[]; seconds: number }> {
  const samples: Sample[] = [];
  let next = 0;
  const t0 = performance.now();
  const client = async () => {
    while (next < requests && performance.now() - t0 < PHASE_MS) {
      const prompt = DEFAULT_BENCH_PROMPTS[next++ % DEFAULT_BENCH_PROMPTS.length];
      samples.push(await run(model, prompt));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return { samples, seconds: (performance.now() - t0) / 1000 };
}

/** Pools the runs of one path: rates over their summed wall time, percentiles over all samples. */
function summarize(runs: { samples: Sample[]; seconds: number }[]) {
  const samples = runs.flatMap((r) => r.samples);
  const wall = runs.reduce((t, r) => t + r.seconds, 0);
  const ok = samples.filter((s) => s.ok);
  const pct = (xs: number[]) => {
    const p = percentiles(xs);
    return { p50: round(p.p50), p95: round(p.p95), p99: round(p.p99) };
  };
  const tokens = ok.reduce((n, s) => n + s.tokens, 0);
  return {
    requests: samples.length,
    errors: samples.length - ok.length,
    seconds: round(wall, 3),
    requests_per_second: round(ok.length / wall),
    tokens_per_second: round(tokens / wall, 1),
    mean_completion_tokens: round(tokens / Math.max(ok.length, 1), 1),
    ttft_ms: pct(ok.flatMap((s) => (s.ttft === null ? [] : [s.ttft]))),
    e2e_ms: pct(ok.map((s) => s.e2e)),
  };
}
type Phase = ReturnType<typeof summarize>;

/** Starts `tsx bench/gateway.ts --serve` and resolves with its URL. */
async function startChild(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (l) => { if (l.startsWith('listening ')) resolve(l.slice(10)); });
    child.once('exit', (code) => reject(new Error(`gateway child exited with ${code}`)));
  });
  return { url, child };
}

/** Child mode: serve until the parent closes our stdin. */
async function serveChild(): Promise<void> {
  const gw = await startGateway();
  console.log(`listening ${gw.url}`);
  process.stdin.resume();
  process.stdin.on('end', () => void gw.close().then(() => process.exit(0)));
}

function printTable(rows: { model: string; concurrency: number; gateway: Phase; engine: Phase }[]): void {
  const head = ['model', 'conc', 'path', 'req', 'req/s', 'tok/s', 'TTFT p50/p95/p99 ms', 'e2e p50/p95/p99 ms'];
  const lines = [head];
  for (const r of rows) {
    for (const [name, p] of [['gateway', r.gateway], ['engine', r.engine]] as const) {
      lines.push([r.model, String(r.concurrency), name, `${p.requests}${p.errors ? ` (${p.errors} err)` : ''}`, String(p.requests_per_second), String(p.tokens_per_second),
        `${p.ttft_ms.p50} / ${p.ttft_ms.p95} / ${p.ttft_ms.p99}`, `${p.e2e_ms.p50} / ${p.e2e_ms.p95} / ${p.e2e_ms.p99}`]);
    }
  }
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const [i, l] of lines.entries()) {
    console.log(l.map((c, j) => (j < 3 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = loadavg().map((x) => round(x)!);
  if (loadBefore[0] > cpus().length / 2) console.log(`note: load average ${loadBefore.join(' ')} before the run: other processes share the cores; numbers are noisy`);
  const killer = setTimeout(() => { console.error(`time limit of ${LIMIT_MS / 1000} s reached`); process.exit(1); }, LIMIT_MS);
  const { url, child } = await startChild();
  try {
    const original = await loadModel(STORIES);
    const pool = new ModelPool({ session: { threads: 1 } });
    pool.add('stories260K', original, { parent: null, method: 'original' });
    pool.add(VARIANT, withoutBlock(original, 2), { parent: 'stories260K', method: 'shortgpt' });
    const paths = { gateway: httpRunner(url), engine: engineRunner(pool) };
    for (const model of MODELS) for (const run of Object.values(paths)) await drive(run, model, 2, 8); // warm-up: load weights and sessions, JIT
    const rows: { model: string; concurrency: number; gateway: Phase; engine: Phase; overhead: Record<string, number | null> }[] = [];
    for (const model of MODELS) {
      for (const concurrency of LEVELS) {
        // ABBA order, half the requests each time, so drifting background load hits both paths alike
        const half = Math.ceil(REQUESTS / 2);
        const g1 = await drive(paths.gateway, model, concurrency, half);
        const e1 = await drive(paths.engine, model, concurrency, half);
        const e2 = await drive(paths.engine, model, concurrency, half);
        const g2 = await drive(paths.gateway, model, concurrency, half);
        const gateway = summarize([g1, g2]);
        const engine = summarize([e1, e2]);
        const diff = (a: number | null, b: number | null) => (a === null || b === null ? null : round(a - b));
        rows.push({ model, concurrency, gateway, engine, overhead: {
          ttft_p50_ms: diff(gateway.ttft_ms.p50, engine.ttft_ms.p50),
          e2e_p50_ms: diff(gateway.e2e_ms.p50, engine.e2e_ms.p50),
          e2e_p95_ms: diff(gateway.e2e_ms.p95, engine.e2e_ms.p95),
          throughput_ratio: engine.requests_per_second ? round(gateway.requests_per_second! / engine.requests_per_second, 3) : null,
        } });
      }
    }
    printTable(rows);
    console.log('\ngateway overhead (gateway - engine): TTFT p50, e2e p50, e2e p95 in ms; gateway req/s / engine req/s');
    for (const r of rows) console.log(`  ${r.model.padEnd(24)} conc ${String(r.concurrency).padStart(2)}: ${r.overhead.ttft_p50_ms}, ${r.overhead.e2e_p50_ms}, ${r.overhead.e2e_p95_ms}; ${r.overhead.throughput_ratio}x`);
    const cpu = cpus();
    const out = {
      date: new Date().toISOString(),
      machine: { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 2 ** 30), node: process.version, loadAverageBefore: loadBefore, loadAverageAfter: loadavg().map((x) => round(x)) },
      settings: { requests: REQUESTS, max_tokens: MAX_TOKENS, concurrency: LEVELS, prompts: DEFAULT_BENCH_PROMPTS, sampling: 'greedy', stream: true, threads: 1, scheduler: 'pool default (concurrency 4, queue 64) on both paths', phase_limit_s: PHASE_MS / 1000, order: 'gateway, engine, engine, gateway; half the requests each' },
      results: rows,
      durationS: round((Date.now() - started) / 1000),
    };
    await mkdir(join(HERE, 'results'), { recursive: true });
    await writeFile(join(HERE, 'results', 'gateway.json'), JSON.stringify(out, null, 2) + '\n');
    console.log(`\nwrote bench/results/gateway.json (${out.durationS} s)`);
    for (const m of MODELS) await pool.remove(m);
  } finally {
    clearTimeout(killer);
    child.stdin?.end();
    child.kill();
  }
}

await (args.includes('--serve') ? serveChild() : main());
