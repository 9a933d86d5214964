/**
 * @module The matched-workload benchmark: the same prompts with the same greedy settings on every variant
 * of a model, interleaved (a batch of `concurrency` requests on A, then on B, then B, then A...) so that
 * whatever else runs on the machine weighs on each variant alike. Measured in its own metrics store, so
 * organic traffic statistics stay clean, and saved so the comparison shows the latest.
 */
import { resolveTarget, runCompletion, type InferenceDeps } from './inference.ts';
import type { BenchmarkLatency, BenchmarkResult, BenchmarkStore } from './benchmark-result.ts';
import { MetricsStore, percentiles, type RequestSample } from './metrics.ts';

/** The default prompts: short story openings, as the demo models know them. */
export const DEFAULT_BENCH_PROMPTS = [
  'Once upon a time, there was a little girl named',
  'One day, a boy went to the park and',
  'The cat saw a big red ball. It wanted to',
  'Tom and his mom went to the store to buy',
];

/** Benchmark settings. */
export interface BenchmarkOptions {
  /** Requests per variant. */
  requests: number;
  concurrency: number;
  maxTokens: number;
  prompts: string[];
}

/** Benchmarks in memory, the latest per model. */
export class MemoryBenchmarkStore implements BenchmarkStore {
  private readonly results = new Map<string, Record<string, unknown>>();
  async save(model: string, result: Record<string, unknown>): Promise<void> {
    this.results.set(model, result);
  }
  async latest(model: string): Promise<Record<string, unknown> | null> {
    return this.results.get(model) ?? null;
  }
}

/** One variant's row of a benchmark (exact percentiles of its samples, seconds and tokens/s). */
function summarize(rows: RequestSample[]): BenchmarkLatency {
  let decodeTokens = 0;
  let decodeSeconds = 0;
  let prefillTokens = 0;
  let prefillSeconds = 0;
  for (const r of rows) {
    if (r.ttft === null) continue;
    if (r.completionTokens > 1) {
      decodeTokens += r.completionTokens - 1;
      decodeSeconds += r.e2e - r.ttft;
    }
    prefillTokens += r.promptTokens;
    prefillSeconds += r.ttft - r.queue;
  }
  return {
    requests: rows.length,
    completion_tokens: rows.reduce((s, r) => s + r.completionTokens, 0),
    ttft: percentiles(rows.flatMap((r) => (r.ttft === null ? [] : [r.ttft]))),
    itl: percentiles(rows.flatMap((r) => r.itl)),
    e2e: percentiles(rows.map((r) => r.e2e)),
    tokens_per_second: decodeSeconds > 0 ? decodeTokens / decodeSeconds : null,
    prefill_tokens_per_second: prefillSeconds > 0 ? prefillTokens / prefillSeconds : null,
  };
}

/**
 * Runs the benchmark on every ready variant of `id`'s family, interleaved, and saves the result.
 * @example await runBenchmark(deps, 'stories260K', { requests: 8, concurrency: 2, maxTokens: 32, prompts: DEFAULT_BENCH_PROMPTS }, store);
 */
export async function runBenchmark(deps: InferenceDeps, id: string, opts: BenchmarkOptions, store?: BenchmarkStore): Promise<BenchmarkResult> {
  const metrics = new MetricsStore();
  const isolated: InferenceDeps = { ...deps, metrics };
  const root = deps.pool.get(id);
  const family = deps.pool.family(root.info.parent ?? root.id).filter((m) => !m.info.pending);
  const original = family.find((m) => m.info.parent === null) ?? family[0];
  for (const variant of family) await (await variant.session()).step([1], 1, null, 1); // load weights and sessions outside the timings
  const started = Date.now();
  const schedule: string[] = [];
  const done = new Map(family.map((m) => [m.id, 0]));
  for (let round = 0; [...done.values()].some((n) => n < opts.requests); round++) {
    // alternate the order every round (A B, B A, ...) so neither variant always goes first
    const order = round % 2 === 0 ? family : [...family].reverse();
    for (const variant of order) {
      const from = done.get(variant.id)!;
      const batch = Math.min(opts.concurrency, opts.requests - from);
      if (batch <= 0) continue;
      done.set(variant.id, from + batch);
      schedule.push(`${variant.id}×${batch}`);
      const target = resolveTarget(isolated, variant.id, null);
      await Promise.all(Array.from({ length: batch }, async (_, k) => {
        const prompt = opts.prompts[(from + k) % opts.prompts.length];
        // a plain completion, as most traffic sends: no per-token logprobs to compute
        const params = { prompt, maxTokens: opts.maxTokens, temperature: 0, topP: 1, topK: 0, stop: [], logprobs: false };
        const it = runCompletion(isolated, { ...target, route: undefined }, params, performance.now());
        while (!(await it.next()).done);
      }));
    }
  }
  const variants = family.map((m) => ({ id: m.id, latency: summarize(metrics.window(m.id)) }));
  const base = variants.find((v) => v.id === original.id)!.latency;
  const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b !== 0 ? a / b : null);
  const result: BenchmarkResult = {
    object: 'benchmark',
    model: original.id,
    created_at: new Date().toISOString(),
    seconds: (Date.now() - started) / 1000,
    settings: { requests: opts.requests, concurrency: opts.concurrency, max_tokens: opts.maxTokens, prompts: opts.prompts, interleaved: true },
    schedule,
    variants: variants.map(({ id, latency: v }) => ({
      id,
      latency: v,
      ratios: {
        ttft_p50: ratio(v.ttft.p50, base.ttft.p50),
        itl_p50: ratio(v.itl.p50, base.itl.p50),
        e2e_p50: ratio(v.e2e.p50, base.e2e.p50),
        tokens_per_second: ratio(v.tokens_per_second, base.tokens_per_second),
        prefill_tokens_per_second: ratio(v.prefill_tokens_per_second, base.prefill_tokens_per_second),
      },
    })),
  };
  await store?.save(original.id, result);
  return result;
}
