/**
 * @module `GET /v1/models/:id` for a model this Node gateway serves without an upload (the demo model,
 * or one a test adds): its family from the pool. Runs after the shared details route found no row.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { ModelNotFound } from '../errors.ts';
import { countParams } from '../model/types.ts';
import { ORIGINAL_ALIAS } from '../serving/inference.ts';
import { DEFAULT_CRITERIA, familyVerdicts } from '../serving/verdict.ts';
import { assertCanUse } from './auth.ts';

/** The served-model details route (Node only). */
export const servedModelDetailsRoute = new Hono<AppEnv>();

servedModelDetailsRoute.get('/v1/models/:id', async (c) => {
  // `id` is echoed back as asked (name, name:variant or name:original), so that it can be sent as `model`
  const id = c.req.param('id');
  const bare = id.endsWith(ORIGINAL_ALIAS) ? id.slice(0, -ORIGINAL_ALIAS.length) : id;
  const served = c.var.pool.list().find((m) => m.id === bare);
  if (!served) throw new ModelNotFound(id);
  assertCanUse(c, id, served.info.owner);
  const family = c.var.pool.family(served.info.parent ?? bare);
  const verdicts = familyVerdicts(family.map((v) => ({ method: v.info.method, evaluation: v.info.evaluation })));
  const variants = [];
  for (const v of family) {
    const m = v.info.layers === undefined || v.info.params === undefined ? (await v.loaded()).model : null;
    variants.push({
      id: v.id,
      method: v.info.method,
      layers: v.info.layers ?? m!.layers.length,
      params: v.info.params ?? countParams(m!),
      bytes: v.info.bytes ?? null,
      status: v.info.pending ? 'pending' : 'ready',
      evaluation: v.info.evaluation ?? null,
      ...(verdicts[variants.length] ? { verdict: verdicts[variants.length] } : {}),
    });
  }
  return c.json({ id, object: 'model', created: served.created, owned_by: 'flatgate', name: served.info.parent ?? bare, status: 'ready', criteria: DEFAULT_CRITERIA, variants });
});
