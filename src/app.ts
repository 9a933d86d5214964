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
import { modelDetailsRoute } from './routes/model-details.ts';
import { uploadsRoute } from './routes/uploads.ts';
import type { Platform } from './platform/types.ts';
import { AbRouter } from './serving/ab-router.ts';
import type { InferenceDeps } from './serving/inference.ts';
import { MetricsStore } from './serving/metrics.ts';
import { canUse } from './access/keys.ts';
import { visibleMetrics } from './routes/metrics-visibility.ts';
import type { ModelPool } from './serving/model-pool.ts';

/** What the app needs from its platform. */
export interface AppDeps {
  pool: ModelPool;
  router?: AbRouter;
  metrics?: MetricsStore;
  maxRequestBytes: number;
  /** Storage, database and job queue; without it the upload, job and model-details routes are absent. */
  platform?: Platform;
  /** Access control; open (no keys) when absent. */
  auth?: AuthConfig;
  log?: (msg: string, err?: unknown) => void;
}

/**
 * Builds the gateway app.
 * @example serve({ fetch: createApp({ pool, maxRequestBytes: 1 << 20 }).fetch, port: 8080 });
 */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const log = deps.log ?? ((msg, err) => console.error(msg, err));
  const inference: InferenceDeps = { pool: deps.pool, router: deps.router ?? new AbRouter(), metrics: deps.metrics ?? new MetricsStore(), log };
  const app = new Hono<AppEnv>();
  app.use('*', async (c, next) => {
    c.set('pool', deps.pool);
    c.set('inference', inference);
    if (deps.platform) c.set('platform', deps.platform);
    await next();
  });
  app.use('*', authenticate(deps.auth ?? { mode: 'open' }));
  app.use('*', jsonBodyLimit(() => deps.maxRequestBytes));
  app.get('/health', (c) => c.json({ status: 'ok' }));
  if (deps.platform) {
    app.route('/', modelDetailsRoute);
    app.route('/', uploadsRoute);
    app.route('/', hooksRoute);
    app.route('/', jobsRoute);
  }
  app.route('/', modelsRoute);
  app.route('/', completionsRoute);
  app.route('/', chatCompletionsRoute);
  app.get('/metrics', (c) => {
    const p = c.var.principal;
    const text = inference.metrics.prometheus();
    // an owner's admin key sees the operator's models and its own; a model no longer served only the operator
    const visible = (id: string) => p.owner === null || (deps.pool.has(id) && canUse(p, deps.pool.get(id).info.owner));
    return c.text(p.owner === null ? text : visibleMetrics(text, visible), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });
  handleErrorsAsOpenAI(app, log);
  return app;
}
