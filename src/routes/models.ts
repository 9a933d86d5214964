/**
 * @module GET /v1/models (every original and variant as its own id, OpenAI's list shape), A/B routes
 * (PUT/GET/DELETE /v1/models/:id/route), the comparison and the on-demand benchmark.
 */
import { Hono, type Context } from 'hono';
import { accepts } from 'hono/accepts';
import type { AppEnv } from '../app-env.ts';
import { InvalidRequest } from '../errors.ts';
import { DEFAULT_BENCH_PROMPTS, runBenchmark } from '../serving/benchmark.ts';
import { compareVariants, gatewaySources } from '../serving/comparison.ts';
import { ORIGINAL_ALIAS, type InferenceDeps } from '../serving/inference.ts';
import type { ServedModel } from '../serving/model-pool.ts';
import { autoPromote, deleteRoute, describeRoute, setManualRoute } from '../jobs/route-service.ts';
import { renderComparisonPage, windowOf } from './comparison-page.ts';
import { canUse } from '../access/keys.ts';
import { findModelByName } from '../db/queries/models.ts';
import { resolveCriteria } from '../serving/verdict.ts';
import { assertCanManage, assertCanUse, isAnonymous } from './auth.ts';
import { benchmarkRequest, routeRequest } from './schemas.ts';
import { parseJson } from './validate.ts';

function card(m: ServedModel) {
  return { id: m.id, object: 'model', created: m.created, owned_by: 'flatgate', parent: m.info.parent, root: m.info.parent ?? m.id };
}

/** The comparison's sources in this app: every gateway's summaries, after writing this one's. */
function sourcesOf(deps: InferenceDeps) {
  return gatewaySources(deps.summaries!, deps.benchmarks, deps.log);
}

/** The comparison of `id` under its model's verdict criteria (the defaults for a model never uploaded). */
async function comparisonOf(c: Context<AppEnv>, id: string, windowSeconds: number) {
  const db = c.var.platform?.db;
  const row = db ? await findModelByName(db, c.var.pool.get(id).info.parent ?? id) : undefined;
  return compareVariants(c.var.pool, sourcesOf(c.var.inference), id, windowSeconds, Date.now(), resolveCriteria(row?.criteria));
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
    const id = c.req.param('id');
    assertCanUse(c, id, c.var.pool.get(id).info.owner);
    const windowSeconds = windowOf(c.req.query('window'));
    const format = c.req.query('format') ?? (accepts(c, { header: 'Accept', supports: ['application/json', 'text/html'], default: 'application/json' }) === 'text/html' ? 'html' : 'json');
    if (format !== 'html' && format !== 'json') throw new InvalidRequest('format must be json or html', 'format');
    const table = await comparisonOf(c, id, windowSeconds);
    c.header('vary', 'accept');
    c.header('cache-control', 'no-store');
    return format === 'html' ? c.html(renderComparisonPage(table, { model: id, windowSeconds })) : c.json(table);
  })
  .get('/models/:id/comparison', async (c) => {
    const id = c.req.param('id');
    const windowSeconds = windowOf(c.req.query('window'));
    c.header('cache-control', 'no-store');
    // a browser without a key gets the shell, which reveals nothing and asks for one
    if (isAnonymous(c)) return c.html(renderComparisonPage(null, { model: id, windowSeconds }));
    assertCanUse(c, id, c.var.pool.get(id).info.owner);
    return c.html(renderComparisonPage(await comparisonOf(c, id, windowSeconds), { model: id, windowSeconds }));
  })
  .post('/v1/models/:id/benchmark', async (c) => {
    assertCanManage(c, c.req.param('id'), c.var.pool.get(c.req.param('id')).info.owner);
    const body = await parseJson(c, benchmarkRequest);
    const result = await runBenchmark(c.var.inference, c.req.param('id'), {
      requests: body.requests ?? 8,
      concurrency: body.concurrency ?? 2,
      maxTokens: body.max_tokens ?? 32,
      prompts: body.prompts ?? DEFAULT_BENCH_PROMPTS,
    }, c.var.inference.benchmarks);
    return c.json(result);
  });
