/**
 * @module App assembly: routers, body limit, and the one error handler that turns every error into
 * OpenAI's shape.
 */
import { Hono } from 'hono';
import type { AppEnv } from './app-env.ts';
import { chatCompletionsRoute } from './routes/chat-completions.ts';
import { completionsRoute } from './routes/completions.ts';
import { modelsRoute } from './routes/models.ts';
import { authenticate, type AuthConfig } from './routes/auth.ts';
import { jsonBodyLimit } from './routes/json-body-limit.ts';
import { handleErrorsAsOpenAI } from './routes/openai-error.ts';
import { hooksRoute } from './routes/hooks.ts';
import { jobsRoute } from './routes/jobs.ts';
import { summariesRoute } from './routes/summaries.ts';
import { benchmarksRoute } from './routes/benchmarks.ts';
import { modelDetailsRoute } from './routes/model-details.ts';
import { servedModelDetailsRoute } from './routes/served-model-details.ts';
import { uploadsRoute } from './routes/uploads.ts';
import { tokenizerRoute } from './routes/tokenizer.ts';
import { openApiRoute } from './routes/openapi.ts';
import type { Platform } from './platform/types.ts';
import { AbRouter } from './serving/ab-router.ts';
import type { InferenceDeps } from './serving/inference.ts';
import { dbBenchmarkStore } from './db/queries/benchmark-results.ts';
import { dbSummaryStore } from './db/queries/request-summaries.ts';
import type { BenchmarkStore } from './serving/benchmark-result.ts';
import { MemoryBenchmarkStore } from './serving/benchmark.ts';
import { MetricsStore } from './serving/metrics.ts';
import { MemorySummaryStore, SummaryRecorder } from './serving/summaries.ts';
import { canUse } from './access/keys.ts';
import { visibleMetrics } from './routes/metrics-visibility.ts';
import type { ModelPool } from './serving/model-pool.ts';

/** What the app needs from its platform. */
export interface AppDeps {
  pool: ModelPool;
  router?: AbRouter;
  metrics?: MetricsStore;
  /**
   * This gateway's per-minute request summaries; default: written to the platform's database (memory
   * without one) under a random gateway id, flushed when a comparison is read. The Node entry passes
   * one it flushes on a timer and at shutdown.
   */
  summaries?: SummaryRecorder;
  /** Where benchmarks are saved; default: the platform's database (memory without one). */
  benchmarks?: BenchmarkStore;
  maxRequestBytes: number;
  /** Storage, database and job queue; without it the upload, job and model-details routes are absent. */
  platform?: Platform;
  /** Access control; open (no keys) when absent. */
  auth?: AuthConfig;
  /**
   * Brings a model id the pool lacks into it when the database says it is served (see
   * jobs/serving-state.ts); absent: the pool is all there is.
   */
  ensureServed?: (id: string) => Promise<void>;
  log?: (msg: string, err?: unknown) => void;
}

/**
 * Builds the gateway app.
 * @example serve({ fetch: createApp({ pool, maxRequestBytes: 1 << 20 }).fetch, port: 8080 });
 */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const log = deps.log ?? ((msg, err) => console.error(msg, err));
  const metrics = deps.metrics ?? new MetricsStore();
  const db = deps.platform?.db;
  const summaries = deps.summaries ?? new SummaryRecorder(db ? dbSummaryStore(db) : new MemorySummaryStore(), `gw-${crypto.randomUUID().slice(0, 8)}`);
  metrics.observe(summaries);
  const benchmarks = deps.benchmarks ?? (db ? dbBenchmarkStore(db) : new MemoryBenchmarkStore());
  const inference: InferenceDeps = { pool: deps.pool, router: deps.router ?? new AbRouter(), metrics, summaries, benchmarks, log, ensure: deps.ensureServed };
  const app = new Hono<AppEnv>();
  app.use('*', async (c, next) => {
    c.set('pool', deps.pool);
    c.set('inference', inference);
    if (deps.platform) c.set('platform', deps.platform);
    await next();
  });
  app.use('*', async (c, next) => {
    await next();
    if (c.res.status >= 400) inference.metrics.recordError(c.res.status);
  });
  app.use('*', authenticate(deps.auth ?? { mode: 'open' }));
  app.use('*', jsonBodyLimit(() => deps.maxRequestBytes));
  app.get('/health', (c) => c.json({ status: 'ok' }));
  const ensure = deps.ensureServed;
  if (ensure) {
    // a model route for an id this gateway has not loaded yet (published through another gateway)
    for (const path of ['/v1/models/:id', '/v1/models/:id/*', '/models/:id/*']) {
      app.use(path, async (c, next) => {
        await ensure(c.req.param('id') ?? '');
        await next();
      });
    }
  }
  if (deps.platform) {
    app.route('/', modelDetailsRoute);
    app.route('/', servedModelDetailsRoute);
    app.route('/', uploadsRoute);
    app.route('/', hooksRoute);
    app.route('/', jobsRoute);
    app.route('/', summariesRoute);
    app.route('/', benchmarksRoute);
  }
  app.route('/', modelsRoute);
  app.route('/', completionsRoute);
  app.route('/', chatCompletionsRoute);
  app.route('/', tokenizerRoute);
  app.route('/', openApiRoute());
  app.get('/metrics', (c) => {
    const p = c.var.principal;
    const loads = deps.pool.list().map((m) => ({ model: m.info.parent ?? m.id, variant: m.id, ...m.scheduler.load }));
    const text = inference.metrics.prometheus({ loads });
    // an owner's admin key sees the operator's models and its own; a model no longer served only the operator
    const visible = (id: string) => p.owner === null || (deps.pool.has(id) && canUse(p, deps.pool.get(id).info.owner));
    return c.text(p.owner === null ? text : visibleMetrics(text, visible), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });
  handleErrorsAsOpenAI(app, log);
  return app;
}
