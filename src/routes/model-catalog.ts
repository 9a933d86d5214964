/**
 * @module The Worker's model catalog, from D1 (the Worker has no model pool): `GET /v1/models` lists
 * every ready variant the key may use, in OpenAI's list shape; `DELETE /v1/models/:id` removes an
 * uploaded model's rows and objects; `GET /v1/models/:id` answers 404 for ids D1 does not know before
 * the shared details route runs (whose other branch reads the pool).
 */
import { Hono } from 'hono';
import { canManage, canUse } from '../access/keys.ts';
import { findModel, findModelByName, listModels } from '../db/queries/models.ts';
import { deleteModelEverywhere } from '../jobs/delete-model.ts';
import { readyVariants } from '../db/queries/variants.ts';
import { ModelNotFound } from '../errors.ts';
import type { CloudflareAppEnv } from '../platform/cloudflare.ts';

/** The Worker's model catalog routes. */
export const modelCatalogRoute = new Hono<CloudflareAppEnv>();

modelCatalogRoute.get('/v1/models', async (c) => {
  const { db } = c.var.cloudflare;
  const models = new Map((await listModels(db)).filter((m) => canUse(c.var.principal, m.owner)).map((m) => [m.id, m]));
  const data = (await readyVariants(db))
    .filter((v) => models.has(v.modelId))
    .map((v) => {
      const m = models.get(v.modelId)!;
      const parent = v.method === 'original' ? null : m.name;
      return { id: v.id, object: 'model', created: Math.floor(v.createdAt / 1000), owned_by: 'flatgate', parent, root: parent ?? v.id };
    });
  return c.json({ object: 'list', data });
});

modelCatalogRoute.get('/v1/models/:id', async (c, next) => {
  const { db } = c.var.cloudflare;
  const id = c.req.param('id');
  // a variant (`name:method-r`) or the `name:original` alias is known when its model is
  const name = id.split(':')[0];
  if (!(await findModel(db, id)) && !(await findModelByName(db, name))) throw new ModelNotFound(id);
  await next();
});

modelCatalogRoute.delete('/v1/models/:id', async (c) => {
  const { db, objects } = c.var.cloudflare;
  const id = c.req.param('id');
  const model = (await findModel(db, id)) ?? (await findModelByName(db, id));
  // another owner's model is not found, never forbidden
  if (!model || !canManage(c.var.principal, model.owner)) throw new ModelNotFound(id);
  await deleteModelEverywhere({ db, store: objects, log: (m, e) => console.error(m, e) }, model);
  return c.json({ id: model.id, object: 'model', deleted: true });
});
