/**
 * @module `GET /v1/models/:id`: a model (by id or name) with its variants and their evaluations. A
 * served model that was never uploaded (the demo model) answers with its one original variant.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { jobsOfModel } from '../db/queries/jobs.ts';
import { deleteModel, findModel, findModelByName } from '../db/queries/models.ts';
import { variantsOfModel } from '../db/queries/variants.ts';
import { ModelNotFound } from '../errors.ts';
import { ORIGINAL_ALIAS } from '../serving/inference.ts';
import { modelPrefix } from '../storage/layout.ts';
import { assertCanManage, assertCanUse } from './auth.ts';
import { countParams } from '../model/types.ts';

/** The model-details route. */
export const modelDetailsRoute = new Hono<AppEnv>();

modelDetailsRoute.get('/v1/models/:id', async (c) => {
  // `id` is echoed back as asked (name, name:variant or name:original), so that it can be sent as `model`
  const id = c.req.param('id');
  const bare = id.endsWith(ORIGINAL_ALIAS) ? id.slice(0, -ORIGINAL_ALIAS.length) : id;
  const { db } = c.var.platform;
  const model = (await findModel(db, bare)) ?? (await findModelByName(db, bare.split(':')[0]));
  if (model) assertCanUse(c, id, model.owner);
  if (!model) {
    const served = c.var.pool.list().find((m) => m.id === bare);
    if (!served) throw new ModelNotFound(id);
    assertCanUse(c, id, served.info.owner);
    const family = c.var.pool.family(served.info.parent ?? bare);
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
      });
    }
    return c.json({ id, object: 'model', created: served.created, owned_by: 'flatgate', name: served.info.parent ?? bare, status: 'ready', variants });
  }
  const variants = await variantsOfModel(db, model.id);
  if (bare !== model.id && bare !== model.name && !variants.some((v) => v.id === bare)) throw new ModelNotFound(id);
  const jobs = await jobsOfModel(db, model.id);
  const last = jobs.at(-1);
  return c.json({
    id,
    model_id: model.id,
    object: 'model',
    created: Math.floor(model.createdAt / 1000),
    owned_by: 'flatgate',
    name: model.name,
    status: model.status,
    sha256: model.sha256,
    bytes: model.bytes,
    job: last ? { id: last.id, status: last.status, stage: last.stage, progress: last.progress, error: last.error } : null,
    variants: variants.map((v) => ({
      id: v.id,
      name: v.name,
      method: v.method,
      layers: v.layers,
      params: v.params,
      bytes: v.bytes,
      status: v.status,
      evaluation: v.evaluation,
    })),
  });
});

/** Deletes an uploaded model: it stops being served, its rows go, and its objects leave the bucket. */
modelDetailsRoute.delete('/v1/models/:id', async (c) => {
  const id = c.req.param('id');
  const { db, store } = c.var.platform;
  const model = (await findModel(db, id)) ?? (await findModelByName(db, id));
  if (!model) throw new ModelNotFound(id);
  assertCanManage(c, id, model.owner);
  for (const v of await variantsOfModel(db, model.id)) await c.var.pool.remove(v.id);
  await c.var.pool.remove(model.name);
  await c.var.inference.router.delete(model.name);
  await deleteModel(db, model.id);
  await store.deletePrefix(modelPrefix(model.id));
  return c.json({ id: model.id, object: 'model', deleted: true });
});
