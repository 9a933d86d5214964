/**
 * @module The Worker's inference routes: completions, chat completions, the tokenizer endpoints and the
 * serving-side model routes (comparison, benchmark) are forwarded to the serving containers, keyed by model so
 * one model's traffic reaches one container. Models uploaded by another owner answer 404 here, before
 * anything is forwarded; the caller's key is not passed on.
 */
import { Hono, type Context } from 'hono';
import { canManage, canUse } from '../access/keys.ts';
import { findAbRoute } from '../db/queries/ab-routes.ts';
import { findModelByName, type ModelRow } from '../db/queries/models.ts';
import { variantsOfModel } from '../db/queries/variants.ts';
import { publishedVariant } from '../jobs/published-variant.ts';
import { InvalidRequest, ModelNotFound } from '../errors.ts';
import type { CloudflareAppEnv } from '../platform/cloudflare.ts';
import { isAnonymous } from './auth.ts';
import { renderComparisonPage, windowOf } from './comparison-page.ts';

/** The model's upload name: `name` for the original, `name:variant` for the others. */
const rootName = (model: string) => model.split(':')[0];

/**
 * What this isolate last told serving about a model id's family, and until when that holds: re-told when
 * D1's ready variants or route change, or after a while (containers restart).
 */
const announced = new Map<string, { at: number; until: number; what: string }>();
const ANNOUNCE_TTL_MS = 60_000;
/** A forced re-announcement (serving answered model_not_found) happens at most this often per model id. */
const FORCE_GAP_MS = 2_000;
const ANNOUNCE_MAX = 4096;

/**
 * Tells the serving node that will take `model`'s requests which published variants of its family to
 * serve, and its A/B route: serving nodes have their own database, D1 is the truth. Sent again whenever
 * what D1 says changes (read on each request), and at least once a minute per isolate and model id.
 */
async function announceFamily(c: Context<CloudflareAppEnv>, model: string, row: ModelRow, force = false): Promise<boolean> {
  const p = c.var.cloudflare;
  const [all, route] = await Promise.all([variantsOfModel(p.db, row.id), findAbRoute(p.db, row.name)]);
  const ready = all.filter((v) => v.status === 'ready');
  if (ready.length === 0) return false;
  const what = JSON.stringify([ready.map((v) => [v.id, v.createdAt]), route?.updatedAt ?? null]);
  const last = announced.get(model);
  if (last && last.what === what && (force ? last.at > Date.now() - FORCE_GAP_MS : last.until > Date.now())) return false;
  const variants = ready.map((v) => {
    const { modelId, ...rest } = publishedVariant(row, v);
    return { ...rest, model_id: modelId };
  });
  const body = { variants, route: { model: row.name, arms: route?.arms ?? [], shadow_rate: route?.shadowRate ?? 0 } };
  const headers = { authorization: `Bearer ${p.workerToken}`, 'content-type': 'application/json' };
  const res = await p.serving(new Request(new URL('/v1/worker/serve', c.req.url), { method: 'POST', headers, body: JSON.stringify(body) }), model);
  if (!res.ok) return false;
  if (announced.size >= ANNOUNCE_MAX) announced.clear();
  announced.set(model, { at: Date.now(), until: Date.now() + ANNOUNCE_TTL_MS, what });
  return true;
}

/** Whether serving answered that it does not know the model (its error code, not any 404). */
async function servingLacksModel(res: Response): Promise<boolean> {
  if (res.status !== 404) return false;
  const body = (await res.clone().json().catch(() => null)) as { error?: { code?: unknown } } | null;
  return body?.error?.code === 'model_not_found';
}

/**
 * Forwards to serving after the same checks as the Node app: the model must be known here (serving
 * containers run without keys), visible to the caller, and for changes (routes, benchmark) managed by it.
 */
async function forward(c: Context<CloudflareAppEnv>, model: string | null, body: string | null, manage = false): Promise<Response> {
  const p = c.var.cloudflare;
  const row = model ? await findModelByName(p.db, rootName(model)) : null;
  if (model) {
    if (!row || !(manage ? canManage : canUse)(c.var.principal, row.owner)) throw new ModelNotFound(model);
    await announceFamily(c, model, row);
  }
  const headers = new Headers(c.req.raw.headers);
  headers.delete('authorization');
  headers.delete('cookie');
  const send = () => p.serving(new Request(c.req.url, { method: c.req.method, headers, body, signal: c.req.raw.signal }), model);
  const res = await send();
  // a container that restarted since this isolate's last announcement knows nothing yet: tell it now
  // and ask once more, rather than answer 404 for a model D1 serves until the announcement expires
  if (model && row && (await servingLacksModel(res)) && (await announceFamily(c, model, row, true))) {
    await res.body?.cancel();
    return send();
  }
  return res;
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
  .get('/v1/models/:id/comparison', withPathModel)
  // a browser without a key gets the page's shell here; the serving containers run without keys
  .get('/models/:id/comparison', (c) =>
    isAnonymous(c) ? c.html(renderComparisonPage(null, { model: c.req.param('id'), windowSeconds: windowOf(c.req.query('window')) })) : withPathModel(c))
  .post('/v1/models/:id/benchmark', withPathModel)
  // vLLM's tokenizer endpoints: here `model` is required (the Worker cannot tell which family is meant)
  .post('/tokenize', withBodyModel)
  .post('/detokenize', withBodyModel)
  .get('/tokenizer_info', (c) => {
    const model = c.req.query('model');
    if (!model) throw new InvalidRequest('model is required (?model=)', 'model');
    return forward(c, model, null);
  });
