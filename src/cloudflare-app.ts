/**
 * @module The Cloudflare Worker's app: the shared job, hook, summary, benchmark and model-details routers,
 * the Worker's own upload, catalog and inference-forwarding routers, the same access control and the
 * same error shape as the Node app. Imports nothing Node-only (no model pool, no onnxruntime, no filesystem).
 */
import { openApiRoute } from './routes/openapi.ts';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { SharedAppEnv } from './app-env.ts';
import { cloudflarePlatform, type CloudflareAppEnv, type CloudflarePlatform } from './platform/cloudflare.ts';
import { authenticate } from './routes/auth.ts';
import { d1AbRoutesRoute } from './routes/d1-ab-routes.ts';
import { hooksRoute } from './routes/hooks.ts';
import { jobsRoute } from './routes/jobs.ts';
import { modelCatalogRoute } from './routes/model-catalog.ts';
import { modelDetailsRoute } from './routes/model-details.ts';
import { jsonBodyLimit } from './routes/json-body-limit.ts';
import { handleErrorsAsOpenAI } from './routes/openai-error.ts';
import { r2UploadsRoute } from './routes/r2-uploads.ts';
import { servingProxyRoute } from './routes/serving-proxy.ts';
import { summariesRoute } from './routes/summaries.ts';
import { benchmarksRoute } from './routes/benchmarks.ts';

const auths = new WeakMap<CloudflarePlatform, MiddlewareHandler<SharedAppEnv>>();

/** The access-control middleware of `p` (one per platform, so rate limits count per isolate). */
function authOf(p: CloudflarePlatform): MiddlewareHandler<SharedAppEnv> {
  let auth = auths.get(p);
  if (!auth) {
    auth = authenticate(p.config.authMode === 'open' ? { mode: 'open' } : { mode: 'keys', adminKey: p.config.adminKey, db: p.db });
    auths.set(p, auth);
  }
  return auth;
}

/**
 * Builds the Worker's app; the platform comes from each request's `env`.
 * @example export default { fetch: createCloudflareApp().fetch };
 */
export function createCloudflareApp(log: (msg: string, err?: unknown) => void = (msg, err) => console.error(msg, err ?? '')): Hono<CloudflareAppEnv> {
  const app = new Hono<CloudflareAppEnv>();
  app.use('*', async (c, next) => {
    const p = cloudflarePlatform(c.env);
    c.set('cloudflare', p);
    c.set('platform', p);
    await next();
  });
  app.use('*', (c, next) => authOf(c.var.cloudflare)(c as never, next));
  app.use('*', jsonBodyLimit((c) => (c as Context<CloudflareAppEnv>).var.cloudflare.config.maxRequestBytes));
  app.get('/health', (c) => c.json({ status: 'ok', runtime: 'cloudflare-workers' }));
  app.route('/', r2UploadsRoute);
  app.route('/', modelCatalogRoute);
  app.route('/', d1AbRoutesRoute);
  app.route('/', servingProxyRoute);
  app.route('/', modelDetailsRoute);
  app.route('/', hooksRoute);
  app.route('/', jobsRoute);
  // the serving containers' request summaries and benchmarks: D1 is their store (platform/http-*-store.ts)
  app.route('/', summariesRoute);
  app.route('/', benchmarksRoute);
  app.route('/', openApiRoute());
  handleErrorsAsOpenAI(app, log);
  return app;
}
