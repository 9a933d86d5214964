/**
 * @module The Worker's inference routes: completions, chat completions and the serving-side model
 * routes (A/B routes, comparison, benchmark) are forwarded to the serving containers, keyed by model so
 * one model's traffic reaches one container. Models uploaded by another owner answer 404 here, before
 * anything is forwarded; the caller's key is not passed on.
 */
import { Hono, type Context } from 'hono';
import { canManage, canUse } from '../access/keys.ts';
import { findModelByName, type ModelRow } from '../db/queries/models.ts';
import { variantsOfModel } from '../db/queries/variants.ts';
import { publishedVariant } from '../jobs/published-variant.ts';
import { InvalidRequest, ModelNotFound } from '../errors.ts';
import type { CloudflareAppEnv } from '../platform/cloudflare.ts';
import { isAnonymous } from './auth.ts';
import { renderComparisonPage, windowOf } from './comparison-page.ts';

/** The model's upload name: `name` for the original, `name:variant` for the others. */
const rootName = (model: string) => model.split(':')[0];

/** When this isolate last told serving about a model id's family: re-told after a while, since containers restart. */
const announced = new Map<string, number>();
const ANNOUNCE_TTL_MS = 60_000;
const ANNOUNCE_MAX = 4096;

/**
 * Tells the serving node that will take `model`'s requests which published variants of its family to
 * serve: serving nodes have their own database, not D1. At most once a minute per isolate and model id.
 */
async function announceFamily(c: Context<CloudflareAppEnv>, model: string, row: ModelRow): Promise<void> {
  if ((announced.get(model) ?? 0) > Date.now()) return;
  const p = c.var.cloudflare;
  const ready = (await variantsOfModel(p.db, row.id)).filter((v) => v.status === 'ready');
  if (ready.length === 0) return;
  const variants = ready.map((v) => {
    const { modelId, ...rest } = publishedVariant(row, v);
    return { ...rest, model_id: modelId };
  });
  const headers = { authorization: `Bearer ${p.workerToken}`, 'content-type': 'application/json' };
  const res = await p.serving(new Request(new URL('/v1/worker/serve', c.req.url), { method: 'POST', headers, body: JSON.stringify({ variants }) }), model);
  if (!res.ok) return;
  if (announced.size >= ANNOUNCE_MAX) announced.clear();
  announced.set(model, Date.now() + ANNOUNCE_TTL_MS);
}

/**
 * Forwards to serving after the same checks as the Node app: the model must be known here (serving
 * containers run without keys), visible to the caller, and for changes (routes, benchmark) managed by it.
 */
async function forward(c: Context<CloudflareAppEnv>, model: string | null, body: string | null, manage = false): Promise<Response> {
  const p = c.var.cloudflare;
  if (model) {
    const row = await findModelByName(p.db, rootName(model));
    if (!row || !(manage ? canManage : canUse)(c.var.principal, row.owner)) throw new ModelNotFound(model);
    await announceFamily(c, model, row);
  }
  const headers = new Headers(c.req.raw.headers);
  headers.delete('authorization');
  headers.delete('cookie');
  return p.serving(new Request(c.req.url, { method: c.req.method, headers, body, signal: c.req.raw.signal }), model);
}

async function withBodyModel(c: Context<CloudflareAppEnv>): Promise<Response> {
  const text = await c.req.text();
  let model: unknown;
  try {
    model = (JSON.parse(text) as { model?: unknown } | null)?.model;
  } catch {
    throw new InvalidRequest('The request body is not valid JSON');
  }
  if (typeof model !== 'string' || !model) throw new InvalidRequest('model is required', 'model');
  return forward(c, model, text);
}

const withPathModel = async (c: Context<CloudflareAppEnv>) =>
  forward(c, c.req.param('id') ?? null, c.req.method === 'GET' ? null : await c.req.text(), c.req.method !== 'GET');

/** The forwarded inference routes. */
export const servingProxyRoute = new Hono<CloudflareAppEnv>()
  .post('/v1/completions', withBodyModel)
  .post('/v1/chat/completions', withBodyModel)
  .get('/v1/models/:id/route', withPathModel)
  .put('/v1/models/:id/route', withPathModel)
  .delete('/v1/models/:id/route', withPathModel)
  .get('/v1/models/:id/comparison', withPathModel)
  // a browser without a key gets the page's shell here; the serving containers run without keys
  .get('/models/:id/comparison', (c) =>
    isAnonymous(c as never) ? c.html(renderComparisonPage(null, { model: c.req.param('id'), windowSeconds: windowOf(c.req.query('window')) })) : withPathModel(c))
  .post('/v1/models/:id/benchmark', withPathModel);
