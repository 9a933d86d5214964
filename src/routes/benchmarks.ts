/**
 * @module The benchmark store as worker endpoints (worker token): serving nodes without the database (the
 * Cloudflare serving containers) save the matched-workload benchmarks they run here and read the latest
 * of a model back, so every container's comparison shows the same one and a restart loses none. A result
 * is hostile until checked: every field typed and bounded by what a benchmark can produce
 * (BENCHMARK_LIMITS), numbers finite, the model an uploaded one and every variant a ready one of it.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { SharedAppEnv } from '../app-env.ts';
import { latestBenchmark, saveBenchmarkOfModel } from '../db/queries/benchmark-results.ts';
import { findModelByName } from '../db/queries/models.ts';
import { variantsOfModel } from '../db/queries/variants.ts';
import { InvalidRequest, ModelNotFound, PayloadTooLarge } from '../errors.ts';
import { BENCHMARK_LIMITS as LIMITS, type BenchmarkResult } from '../serving/benchmark-result.ts';
import { parseJson } from './validate.ts';
import { requireWorkerToken } from './worker-auth.ts';

/** The longest a benchmark may run, and so any latency in it (seconds): 30 days. */
const MAX_SECONDS = 30 * 86_400;
/** The largest rate or ratio taken (tokens per second, or one variant's over the original's). */
const MAX_RATE = 1e12;

const servedId = z.string().min(1).max(LIMITS.idChars).regex(/^[^\u0000-\u001f\u007f]+$/, 'must hold no control characters');
const seconds = z.number().min(0).max(MAX_SECONDS);
const rate = z.number().min(0).max(MAX_RATE).nullable();
const count = (max: number) => z.number().int().min(0).max(max);
const percentiles = (maxN: number) => z.object({ p50: seconds.nullable(), p95: seconds.nullable(), p99: seconds.nullable(), n: count(maxN) }).strict();
const maxTokens = LIMITS.requests * LIMITS.maxTokens;

/** One schedule entry: `<variant>×<requests in the batch>`. */
const SCHEDULE_ENTRY = /^(.+)×([1-9][0-9]*)$/;

/** A benchmark result as runBenchmark makes it (serving/benchmark.ts), and nothing else. */
export const benchmarkResultSchema = z
  .object({
    object: z.literal('benchmark'),
    model: servedId,
    created_at: z.iso.datetime(),
    seconds,
    settings: z
      .object({
        requests: z.number().int().min(1).max(LIMITS.requests),
        concurrency: z.number().int().min(1).max(LIMITS.concurrency),
        max_tokens: z.number().int().min(1).max(LIMITS.maxTokens),
        prompts: z.array(z.string().max(LIMITS.promptChars)).min(1).max(LIMITS.prompts),
        interleaved: z.literal(true),
      })
      .strict(),
    schedule: z.array(z.string().max(LIMITS.idChars + 8)).max(LIMITS.requests * LIMITS.variants),
    variants: z
      .array(
        z
          .object({
            id: servedId,
            latency: z
              .object({
                requests: count(LIMITS.requests),
                completion_tokens: count(maxTokens),
                ttft: percentiles(LIMITS.requests),
                itl: percentiles(maxTokens),
                e2e: percentiles(LIMITS.requests),
                tokens_per_second: rate,
                prefill_tokens_per_second: rate,
              })
              .strict(),
            ratios: z.object({ ttft_p50: rate, itl_p50: rate, e2e_p50: rate, tokens_per_second: rate, prefill_tokens_per_second: rate }).strict(),
          })
          .strict(),
      )
      .min(1)
      .max(LIMITS.variants),
  })
  .strict()
  .superRefine((r, ctx) => {
    const ids = new Set<string>();
    r.variants.forEach((v, i) => {
      if (ids.has(v.id)) ctx.addIssue({ code: 'custom', path: ['variants', i, 'id'], message: `'${v.id}' is listed twice` });
      ids.add(v.id);
    });
    if (!ids.has(r.model)) ctx.addIssue({ code: 'custom', path: ['model'], message: 'must be one of the variants (the original)' });
    r.schedule.forEach((entry, i) => {
      const m = SCHEDULE_ENTRY.exec(entry);
      if (!m || !ids.has(m[1]) || Number(m[2]) > r.settings.concurrency) {
        ctx.addIssue({ code: 'custom', path: ['schedule', i], message: 'must be <variant>×<n>, a listed variant and n at most settings.concurrency' });
      }
    });
  }) satisfies z.ZodType<BenchmarkResult>;

export const benchmarkLatestSchema = z.object({ model: servedId }).strict();

/** The benchmark endpoints. */
export const benchmarksRoute = new Hono<SharedAppEnv>();

benchmarksRoute.use('/v1/worker/benchmarks', requireWorkerToken());
benchmarksRoute.use('/v1/worker/benchmarks/*', requireWorkerToken());

/**
 * Saves a benchmark of an uploaded model whose variants are all ready ones of it (404 for a model this
 * database does not know, 400 naming the field otherwise); a model deleted meanwhile keeps no row.
 */
benchmarksRoute.post(
  '/v1/worker/benchmarks',
  bodyLimit({ maxSize: LIMITS.resultBytes, onError: () => { throw new PayloadTooLarge(LIMITS.resultBytes); } }),
  async (c) => {
    const result = await parseJson(c, benchmarkResultSchema);
    const { db } = c.var.platform;
    const model = await findModelByName(db, result.model);
    if (!model) throw new ModelNotFound(result.model);
    const ready = new Set((await variantsOfModel(db, model.id)).filter((v) => v.status === 'ready').map((v) => v.id));
    const bad = result.variants.findIndex((v) => !ready.has(v.id));
    if (bad >= 0) throw new InvalidRequest(`Invalid variants.${bad}.id: '${result.variants[bad].id}' is not a ready variant of ${model.name}`, `variants.${bad}.id`);
    if (!(await saveBenchmarkOfModel(db, model, result))) throw new ModelNotFound(result.model);
    return c.json({ object: 'benchmark.saved', model: model.name });
  },
);

/** The latest benchmark of `model` (null when none was saved, or the model is unknown). */
benchmarksRoute.post('/v1/worker/benchmarks/latest', async (c) => {
  const { model } = await parseJson(c, benchmarkLatestSchema);
  return c.json({ object: 'benchmark.latest', model, result: await latestBenchmark(c.var.platform.db, model) });
});
