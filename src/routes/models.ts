/**
 * @module GET /v1/models (every original and variant as its own id, OpenAI's list shape), A/B routes
 * (PUT/GET/DELETE /v1/models/:id/route), the comparison and the on-demand benchmark.
 */
import { Hono } from 'hono';
import { accepts } from 'hono/accepts';
import type { AppEnv } from '../app-env.ts';
import { InvalidRequest } from '../errors.ts';
import { DEFAULT_BENCH_PROMPTS, runBenchmark } from '../serving/benchmark.ts';
import { compareVariants } from '../serving/comparison.ts';
import { ORIGINAL_ALIAS } from '../serving/inference.ts';
import type { ServedModel } from '../serving/model-pool.ts';
import { autoPromote, deleteRoute, describeRoute, setManualRoute } from '../jobs/route-service.ts';
import { renderComparisonPage } from './comparison-page.ts';
import { canUse } from '../access/keys.ts';
import { assertCanManage, assertCanUse } from './auth.ts';
import { benchmarkRequest, routeRequest } from './schemas.ts';
import { parseJson } from './validate.ts';

function card(m: ServedModel) {
  return { id: m.id, object: 'model', created: m.created, owned_by: 'flatgate', parent: m.info.parent, root: m.info.parent ?? m.id };
}

/** Seconds of traffic a comparison covers: `?window=` (default one hour, at most 30 days). */
function windowOf(raw: string | undefined): number {
  if (raw === undefined) return 3600;
  const w = Number(raw);
  if (!Number.isFinite(w) || w <= 0 || w > 30 * 86400) throw new InvalidRequest('window must be a number of seconds in (0, 2592000]', 'window');
  return w;
}

/** The models router. */
export const modelsRoute = new Hono<AppEnv>()
  .get('/v1/models', (c) => c.json({ object: 'list', data: c.var.pool.list().filter((m) => canUse(c.var.principal, m.info.owner)).map(card) }))
  .get('/v1/models/:id', (c) => {
    // without a database (the details route answers first where there is one): the served model's card,
    // its id as asked, so `name:original` works as `model` too
    const id = c.req.param('id');
    const served = c.var.pool.get(id.endsWith(ORIGINAL_ALIAS) ? id.slice(0, -ORIGINAL_ALIAS.length) : id);
    assertCanUse(c, id, served.info.owner);
    return c.json({ ...card(served), id });
  })
  .put('/v1/models/:id/route', async (c) => {
    const id = c.req.param('id');
    const root = c.var.pool.get(id);
    assertCanManage(c, id, root.info.owner);
    if (root.info.parent !== null) throw new InvalidRequest('routes are set on an original model, not a variant', 'model');
    const body = await parseJson(c, routeRequest);
    const db = c.var.platform?.db;
    const { router } = c.var.inference;
    if (body.auto_promote) {
      await autoPromote(db, c.var.pool, router, id, body.shadow_rate ?? undefined);
      return c.json(await describeRoute(db, router, id));
    }
    const arms = body.arms ?? [];
    for (const arm of arms) {
      const v = c.var.pool.get(arm.variant);
      if (v.id !== id && v.info.parent !== id) throw new InvalidRequest(`${arm.variant} is not a variant of ${id}`, 'arms');
    }
    const route = await setManualRoute(db, c.var.pool, router, id, arms, body.shadow_rate ?? 0);
    return c.json({ object: 'route', model: id, arms: route.arms, shadow_rate: route.shadowRate, auto_promote: false });
  })
  .get('/v1/models/:id/route', async (c) => {
    const id = c.req.param('id');
    assertCanUse(c, id, c.var.pool.get(id).info.owner);
    return c.json(await describeRoute(c.var.platform?.db, c.var.inference.router, id));
  })
  .delete('/v1/models/:id/route', async (c) => {
    const id = c.req.param('id');
    assertCanManage(c, id, c.var.pool.get(id).info.owner);
    return c.json({ object: 'route', model: id, deleted: await deleteRoute(c.var.platform?.db, c.var.inference.router, id) });
  })
  .get('/v1/models/:id/comparison', async (c) => {
    assertCanUse(c, c.req.param('id'), c.var.pool.get(c.req.param('id')).info.owner);
    const table = await compareVariants(c.var.pool, c.var.inference.metrics, c.req.param('id'), windowOf(c.req.query('window')));
    const format = c.req.query('format') ?? (accepts(c, { header: 'Accept', supports: ['application/json', 'text/html'], default: 'application/json' }) === 'text/html' ? 'html' : 'json');
    if (format !== 'html' && format !== 'json') throw new InvalidRequest('format must be json or html', 'format');
    c.header('vary', 'accept');
    return format === 'html' ? c.html(renderComparisonPage(table)) : c.json(table);
  })
  .get('/models/:id/comparison', async (c) => {
    assertCanUse(c, c.req.param('id'), c.var.pool.get(c.req.param('id')).info.owner);
    return c.html(renderComparisonPage(await compareVariants(c.var.pool, c.var.inference.metrics, c.req.param('id'), windowOf(c.req.query('window')))));
  })
  .post('/v1/models/:id/benchmark', async (c) => {
    assertCanManage(c, c.req.param('id'), c.var.pool.get(c.req.param('id')).info.owner);
    const body = await parseJson(c, benchmarkRequest);
    const result = await runBenchmark(c.var.inference, c.req.param('id'), {
      requests: body.requests ?? 8,
      concurrency: body.concurrency ?? 2,
      maxTokens: body.max_tokens ?? 32,
      prompts: body.prompts ?? DEFAULT_BENCH_PROMPTS,
    });
    return c.json(result);
  });
