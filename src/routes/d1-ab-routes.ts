/**
 * @module The Worker's A/B routes (`PUT/GET/DELETE /v1/models/:id/route`), kept in D1 like every other
 * piece of serving state: the Worker validates arms against the model's ready variants there, and the
 * serving container that takes the model's traffic is told the route with the variants it serves
 * (serving-proxy.ts), so D1 stays the one truth.
 */
import { Hono } from 'hono';
import { canManage, canUse } from '../access/keys.ts';
import { deleteAbRoute, findAbRoute, saveAbRoute } from '../db/queries/ab-routes.ts';
import { findModelByName } from '../db/queries/models.ts';
import { deleteRoutePromotion, findRoutePromotion, saveRoutePromotion } from '../db/queries/route-promotions.ts';
import { variantsOfModel } from '../db/queries/variants.ts';
import { InvalidRequest, ModelNotFound } from '../errors.ts';
import type { CloudflareAppEnv } from '../platform/cloudflare.ts';
import { validateRoute } from '../serving/ab-route.ts';
import { judge, promote, refuseCollapsedArms } from '../serving/promotion.ts';
import { resolveCriteria } from '../serving/verdict.ts';
import { routeRequest } from './schemas.ts';
import { parseJson } from './validate.ts';

/** The Worker's route endpoints. */
export const d1AbRoutesRoute = new Hono<CloudflareAppEnv>()
  .get('/v1/models/:id/route', async (c) => {
    const id = c.req.param('id');
    const model = await findModelByName(c.var.cloudflare.db, id);
    if (!model || !canUse(c.var.principal, model.owner)) throw new ModelNotFound(id);
    const row = await findAbRoute(c.var.cloudflare.db, id);
    const promo = row ? await findRoutePromotion(c.var.cloudflare.db, id) : undefined;
    return c.json({
      object: 'route', model: id, arms: row?.arms ?? [], shadow_rate: row?.shadowRate ?? 0,
      ...(promo ? { auto_promote: true, chosen: promo.chosen, reasons: promo.reasons } : {}),
    });
  })
  .put('/v1/models/:id/route', async (c) => {
    const id = c.req.param('id');
    const { db } = c.var.cloudflare;
    const model = await findModelByName(db, id);
    if (!model || !canManage(c.var.principal, model.owner)) throw new ModelNotFound(id);
    const body = await parseJson(c, routeRequest);
    // the same verdict rules as a Node gateway's (route-service.ts): auto-promotion, and collapsed arms only when forced
    const ready = (await variantsOfModel(db, model.id)).filter((v) => v.status === 'ready');
    const judged = judge(ready, resolveCriteria(model.criteria));
    const promotion = body.auto_promote ? promote(judged, body.shadow_rate ?? undefined) : null;
    const arms = promotion?.arms ?? body.arms ?? [];
    const shadowRate = promotion?.shadowRate ?? body.shadow_rate ?? 0;
    for (const arm of arms) if (!ready.some((v) => v.id === arm.variant)) throw new InvalidRequest(`${arm.variant} is not a ready variant of ${id}`, 'arms');
    refuseCollapsedArms(judged, arms);
    const route = validateRoute({ model: id, arms: arms.map(({ variant, weight }) => ({ variant, weight })), shadowRate });
    await saveAbRoute(db, { model: id, arms: route.arms, shadowRate: route.shadowRate });
    if (promotion) await saveRoutePromotion(db, { model: id, chosen: promotion.chosen, reasons: promotion.reasons });
    else await deleteRoutePromotion(db, id);
    return c.json({ object: 'route', model: id, arms: route.arms, shadow_rate: route.shadowRate, ...(promotion ? { auto_promote: true, chosen: promotion.chosen, reasons: promotion.reasons } : {}) });
  })
  .delete('/v1/models/:id/route', async (c) => {
    const id = c.req.param('id');
    const model = await findModelByName(c.var.cloudflare.db, id);
    if (!model || !canManage(c.var.principal, model.owner)) throw new ModelNotFound(id);
    await deleteRoutePromotion(c.var.cloudflare.db, id);
    return c.json({ object: 'route', model: id, deleted: await deleteAbRoute(c.var.cloudflare.db, id) });
  });
