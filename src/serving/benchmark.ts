/**
 * @module An on-demand fair latency comparison: the same prompts with the same greedy settings on each
 * variant of a model, one variant after the other, at a fixed concurrency. Measured in its own metrics
 * store, so organic traffic statistics stay clean.
 */
import { compareVariants } from './comparison.ts';
import { resolveTarget, runCompletion, type InferenceDeps } from './inference.ts';
import { MetricsStore } from './metrics.ts';

/** The default prompts: short story openings, as the demo models know them. */
export const DEFAULT_BENCH_PROMPTS = [
  'Once upon a time, there was a little girl named',
  'One day, a boy went to the park and',
  'The cat saw a big red ball. It wanted to',
  'Tom and his mom went to the store to buy',
];

/** Benchmark settings. */
export interface BenchmarkOptions {
  requests: number;
  concurrency: number;
  maxTokens: number;
  prompts: string[];
}

/**
 * Runs the benchmark on every variant of `id`'s family and returns their comparison.
 * @example await runBenchmark(deps, 'stories260K', { requests: 8, concurrency: 2, maxTokens: 32, prompts: DEFAULT_BENCH_PROMPTS });
 */
export async function runBenchmark(deps: InferenceDeps, id: string, opts: BenchmarkOptions) {
  const metrics = new MetricsStore();
  const isolated: InferenceDeps = { ...deps, metrics, router: deps.router };
  const root = deps.pool.get(id);
  const family = deps.pool.family(root.info.parent ?? root.id).filter((m) => !m.info.pending);
  const started = Date.now();
  for (const variant of family) {
    const target = resolveTarget(isolated, `${variant.id}`, null);
    await (await variant.session()).step([1], 1, null, 1); // warm up: load weights and session outside the timings
    let next = 0;
    const worker = async () => {
      while (next < opts.requests) {
        const prompt = opts.prompts[next++ % opts.prompts.length];
        const params = { prompt, maxTokens: opts.maxTokens, temperature: 0, topP: 1, topK: 0, stop: [] };
        const it = runCompletion(isolated, { ...target, route: undefined }, params, performance.now());
        while (!(await it.next()).done);
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.requests) }, worker));
  }
  const table = await compareVariants(deps.pool, metrics, id, (Date.now() - started) / 1000 + 1);
  return { ...table, object: 'benchmark', settings: { requests: opts.requests, concurrency: opts.concurrency, max_tokens: opts.maxTokens, prompts: opts.prompts } };
}
