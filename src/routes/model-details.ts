/**
 * @module `GET /v1/models/:id`: a model (by id or name) with its variants, their evaluations and (ready
 * compressed variants) their verdicts under the model's criteria; `PUT /v1/models/:id/criteria` sets
 * those criteria. A served model that was never uploaded (the demo model) answers from the pool.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { jobsOfModel } from '../db/queries/jobs.ts';
import { deleteModel, findModel, findModelByName, setModelCriteria } from '../db/queries/models.ts';
import { variantsOfModel } from '../db/queries/variants.ts';
import { InvalidRequest, ModelNotFound } from '../errors.ts';
import { DEFAULT_CRITERIA, familyVerdicts, resolveCriteria } from '../serving/verdict.ts';
import { criteriaRequest } from './schemas.ts';
import { parseJson } from './validate.ts';
import { modelPrefix } from '../storage/layout.ts';
import { assertCanManage, assertCanUse } from './auth.ts';
import { countParams } from '../model/types.ts';

/** The model-details route. */
export const modelDetailsRoute = new Hono<AppEnv>();

modelDetailsRoute.get('/v1/models/:id', async (c) => {
  const id = c.req.param('id');
  const { db } = c.var.platform;
  const model = (await findModel(db, id)) ?? (await findModelByName(db, id));
  if (model) assertCanUse(c, id, model.owner);
  if (!model) {
    const served = c.var.pool.list().find((m) => m.id === id);
    if (!served) throw new ModelNotFound(id);
    assertCanUse(c, id, served.info.owner);
    const family = c.var.pool.family(served.info.parent ?? id);
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
    return c.json({ id, object: 'model', created: served.created, owned_by: 'flatgate', name: served.info.parent ?? id, status: 'ready', criteria: DEFAULT_CRITERIA, variants });
  }
  const variants = await variantsOfModel(db, model.id);
  const criteria = resolveCriteria(model.criteria);
  const verdicts = familyVerdicts(variants, criteria);
  const jobs = await jobsOfModel(db, model.id);
  const last = jobs.at(-1);
  return c.json({
    id: model.id,
    object: 'model',
    created: Math.floor(model.createdAt / 1000),
    owned_by: 'flatgate',
    name: model.name,
    status: model.status,
    sha256: model.sha256,
    bytes: model.bytes,
    job: last ? { id: last.id, status: last.status, stage: last.stage, progress: last.progress, error: last.error } : null,
    criteria,
    variants: variants.map((v, i) => ({
      id: v.id,
      name: v.name,
      method: v.method,
      layers: v.layers,
      params: v.params,
      bytes: v.bytes,
      status: v.status,
      evaluation: v.evaluation,
      ...(verdicts[i] && v.status === 'ready' ? { verdict: verdicts[i] } : {}),
    })),
  });
});

/** Sets the verdict criteria of an uploaded model (fields left out: the defaults); answers with the new verdicts. */
modelDetailsRoute.put('/v1/models/:id/criteria', async (c) => {
  const id = c.req.param('id');
  const { db } = c.var.platform;
  const model = (await findModel(db, id)) ?? (await findModelByName(db, id));
  if (!model) {
    if (c.var.pool?.list().some((m) => m.id === id)) throw new InvalidRequest(`${id} was not uploaded: criteria can be set on uploaded models only`, 'model');
    throw new ModelNotFound(id);
  }
  assertCanManage(c, id, model.owner);
  const body = await parseJson(c, criteriaRequest);
  await setModelCriteria(db, model.id, body);
  const criteria = resolveCriteria(body);
  const variants = await variantsOfModel(db, model.id);
  const verdicts = familyVerdicts(variants, criteria);
  return c.json({
    object: 'criteria', model: model.id, criteria,
    variants: variants.flatMap((v, i) => (verdicts[i] && v.status === 'ready' ? [{ id: v.id, name: v.name, verdict: verdicts[i] }] : [])),
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
