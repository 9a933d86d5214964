/**
 * @module App assembly: routers, body limit, and the one error handler that turns every error into
 * OpenAI's shape.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from './app-env.ts';
import { PayloadTooLarge } from './errors.ts';
import { completionsRoute } from './routes/completions.ts';
import { modelsRoute } from './routes/models.ts';
import { toOpenAIError } from './routes/openai-error.ts';
import type { ModelPool } from './serving/model-pool.ts';

/** What the app needs from its platform. */
export interface AppDeps {
  pool: ModelPool;
  maxRequestBytes: number;
  log?: (msg: string, err?: unknown) => void;
}

/**
 * Builds the gateway app.
 * @example serve({ fetch: createApp({ pool, maxRequestBytes: 1 << 20 }).fetch, port: 8080 });
 */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const log = deps.log ?? ((msg, err) => console.error(msg, err));
  const app = new Hono<AppEnv>();
  app.use('*', async (c, next) => {
    c.set('pool', deps.pool);
    await next();
  });
  app.use('/v1/*', bodyLimit({ maxSize: deps.maxRequestBytes, onError: () => { throw new PayloadTooLarge(deps.maxRequestBytes); } }));
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.route('/', modelsRoute);
  app.route('/', completionsRoute);
  app.notFound((c) => c.json({ error: { message: `No route for ${c.req.method} ${c.req.path}`, type: 'not_found_error', param: null, code: null } }, 404));
  app.onError((err, c) => {
    const { status, body } = toOpenAIError(err);
    if (status >= 500) log(`${c.req.method} ${c.req.path} failed`, err);
    return c.json(body, status);
  });
  return app;
}
