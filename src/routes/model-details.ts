/**
 * @module `GET /v1/models/:id`: an uploaded model (by id or name) with its variants, their evaluations and
 * (ready compressed variants) their verdicts under the model's criteria, from the database;
 * `PUT /v1/models/:id/criteria` sets those criteria; `DELETE /v1/models/:id`. Shared by the Node app and
 * the Worker.
 */
import { Hono } from 'hono';
import type { SharedAppEnv } from '../app-env.ts';
import { jobsOfModel } from '../db/queries/jobs.ts';
import { findModel, findModelByName, setModelCriteria } from '../db/queries/models.ts';
import { variantsOfModel } from '../db/queries/variants.ts';
import { ModelNotFound } from '../errors.ts';
import { deleteModelEverywhere } from '../jobs/delete-model.ts';
import { ORIGINAL_ALIAS } from '../serving/inference.ts';
import { familyVerdicts, resolveCriteria } from '../serving/verdict.ts';
import { assertCanManage, assertCanUse } from './auth.ts';
import { criteriaRequest } from './schemas.ts';
import { parseJson } from './validate.ts';

/** The model-details route. */
export const modelDetailsRoute = new Hono<SharedAppEnv>();

modelDetailsRoute.get('/v1/models/:id', async (c, next) => {
  // `id` is echoed back as asked (name, name:variant or name:original), so that it can be sent as `model`
  const id = c.req.param('id');
  const bare = id.endsWith(ORIGINAL_ALIAS) ? id.slice(0, -ORIGINAL_ALIAS.length) : id;
  const { db } = c.var.platform;
  const model = (await findModel(db, bare)) ?? (await findModelByName(db, bare.split(':')[0]));
  // not uploaded (a served demo model): the Node app's served-model route answers, the Worker's 404
  if (!model) return next();
  assertCanUse(c, id, model.owner);
  const variants = await variantsOfModel(db, model.id);
  if (bare !== model.id && bare !== model.name && !variants.some((v) => v.id === bare)) throw new ModelNotFound(id);
  const criteria = resolveCriteria(model.criteria);
  const verdicts = familyVerdicts(variants, criteria);
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
  if (!model) throw new ModelNotFound(id);
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

/**
 * Deletes an uploaded model: its rows in one atomic write, then its objects; this gateway stops serving
 * it at once, the others at their next poll of the database.
 */
modelDetailsRoute.delete('/v1/models/:id', async (c) => {
  const id = c.req.param('id');
  const { db, store } = c.var.platform;
  const model = (await findModel(db, id)) ?? (await findModelByName(db, id));
  if (!model) throw new ModelNotFound(id);
  assertCanManage(c, id, model.owner);
  const { served } = await deleteModelEverywhere({ db, store, log: (m, e) => console.error(m, e ?? '') }, model);
  await c.var.platform.servingChanged(served);
  return c.json({ id: model.id, object: 'model', deleted: true });
});
