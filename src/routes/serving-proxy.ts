/**
 * @module The Worker's inference routes: completions, chat completions and the serving-side model
 * routes (A/B routes, comparison, benchmark) are forwarded to the serving containers, keyed by model so
 * one model's traffic reaches one container. Models uploaded by another owner answer 404 here, before
 * anything is forwarded; the caller's key is not passed on.
 */
import { Hono, type Context } from 'hono';
import { canUse } from '../access/keys.ts';
import { findModelByName, type ModelRow } from '../db/queries/models.ts';
import { variantsOfModel } from '../db/queries/variants.ts';
import { publishedVariant } from '../jobs/published-variant.ts';
import { InvalidRequest, ModelNotFound } from '../errors.ts';
import type { CloudflareAppEnv } from '../platform/cloudflare.ts';

/** The model's upload name: `name` for the original, `name:variant` for the others. */
const rootName = (model: string) => model.split(':')[0];

/** Families this isolate has announced to serving, with the variant versions it announced. */
const announced = new Set<string>();

/**
 * Tells the serving node that will take `model`'s requests which published variants of its family to
 * serve (once per isolate and family version): serving nodes have their own database, not D1.
 */
async function announceFamily(c: Context<CloudflareAppEnv>, model: string, row: ModelRow): Promise<void> {
  const p = c.var.cloudflare;
  const ready = (await variantsOfModel(p.db, row.id)).filter((v) => v.status === 'ready');
  const key = `${model}|${ready.map((v) => `${v.id}@${v.createdAt}`).join(',')}`;
  if (ready.length === 0 || announced.has(key)) return;
  const variants = ready.map((v) => {
    const { modelId, ...rest } = publishedVariant(row, v);
    return { ...rest, model_id: modelId };
  });
  const headers = { authorization: `Bearer ${p.workerToken}`, 'content-type': 'application/json' };
  const res = await p.serving(new Request(new URL('/v1/worker/serve', c.req.url), { method: 'POST', headers, body: JSON.stringify({ variants }) }), model);
  if (res.ok) announced.add(key);
}

async function forward(c: Context<CloudflareAppEnv>, model: string | null, body: string | null): Promise<Response> {
  const p = c.var.cloudflare;
  if (model) {
    const row = await findModelByName(p.db, rootName(model));
    if (row && !canUse(c.var.principal, row.owner)) throw new ModelNotFound(model);
    if (row) await announceFamily(c, model, row);
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

const withPathModel = async (c: Context<CloudflareAppEnv>) => forward(c, c.req.param('id') ?? null, c.req.method === 'GET' ? null : await c.req.text());

/** The forwarded inference routes. */
export const servingProxyRoute = new Hono<CloudflareAppEnv>()
  .post('/v1/completions', withBodyModel)
  .post('/v1/chat/completions', withBodyModel)
  .get('/v1/models/:id/route', withPathModel)
  .put('/v1/models/:id/route', withPathModel)
  .delete('/v1/models/:id/route', withPathModel)
  .get('/v1/models/:id/comparison', withPathModel)
  .get('/models/:id/comparison', withPathModel)
  .post('/v1/models/:id/benchmark', withPathModel);
