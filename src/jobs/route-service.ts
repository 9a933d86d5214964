/**
 * @module Routes judged by verdicts (issue 12): auto-promotion of a model name to its best acceptable
 * variant, the rule that a collapsed variant is served through a route only when an arm forces it,
 * and what GET .../route says. The route itself is the ab_routes row (through the A/B router's store);
 * why it was chosen is the route_promotions row, so every gateway answers the same. Without a database
 * (an app built with no platform) criteria are the defaults and nothing is recorded.
 */
import type { Db } from '../db/client.ts';
import { saveAbRoute } from '../db/queries/ab-routes.ts';
import { findModelByName } from '../db/queries/models.ts';
import { deleteRoutePromotion, findRoutePromotion, saveRoutePromotion } from '../db/queries/route-promotions.ts';
import type { AbRoute, AbRouter, RouteArm } from '../serving/ab-router.ts';
import type { ModelPool } from '../serving/model-pool.ts';
import { judge, promote, refuseCollapsedArms, type Promotion, type PromotionCandidate } from '../serving/promotion.ts';
import { resolveCriteria } from '../serving/verdict.ts';

/** The family of original `id` (served, not pending) with each variant's verdict under the model's criteria. */
export async function judgedFamily(db: Db | undefined, pool: ModelPool, id: string): Promise<PromotionCandidate[]> {
  const family = pool.family(id).filter((m) => !m.info.pending);
  const row = db ? await findModelByName(db, id) : undefined;
  return judge(family.map((m) => ({ id: m.id, method: m.info.method, params: m.info.params, evaluation: m.info.evaluation })), resolveCriteria(row?.criteria));
}

/** Routes `id` to its best acceptable variant (or the original) and records why. */
export async function autoPromote(db: Db | undefined, pool: ModelPool, router: AbRouter, id: string, shadowRate?: number): Promise<{ route: AbRoute; promotion: Promotion }> {
  const promotion = promote(await judgedFamily(db, pool, id), shadowRate);
  const route = await router.set({ model: id, arms: promotion.arms, shadowRate: promotion.shadowRate });
  // the route row itself, whether or not this router writes through to the database
  if (db) await saveAbRoute(db, { model: id, arms: route.arms, shadowRate: route.shadowRate });
  if (db) await saveRoutePromotion(db, { model: id, chosen: promotion.chosen, reasons: promotion.reasons });
  return { route, promotion };
}

/**
 * Sets a route by hand. An arm that names a collapsed variant needs `force: true`.
 * @throws InvalidRequest naming the collapsed variant and its verdict's first reason.
 */
export async function setManualRoute(db: Db | undefined, pool: ModelPool, router: AbRouter, id: string, arms: (RouteArm & { force?: boolean })[], shadowRate: number): Promise<AbRoute> {
  refuseCollapsedArms(await judgedFamily(db, pool, id), arms);
  const route = await router.set({ model: id, arms: arms.map(({ variant, weight }) => ({ variant, weight })), shadowRate });
  if (db) await deleteRoutePromotion(db, id);
  return route;
}

/** Deletes the route of `id` and its promotion record. */
export async function deleteRoute(db: Db | undefined, router: AbRouter, id: string): Promise<boolean> {
  if (db) await deleteRoutePromotion(db, id);
  return router.delete(id);
}

/** What GET .../route answers: the route (or none) and, when auto-promotion set it, what it chose and why. */
export async function describeRoute(db: Db | undefined, router: AbRouter, id: string) {
  const route = router.get(id);
  const promo = route && db ? await findRoutePromotion(db, id) : undefined;
  return {
    object: 'route',
    model: id,
    arms: route?.arms ?? [],
    shadow_rate: route?.shadowRate ?? 0,
    auto_promote: Boolean(promo),
    ...(promo ? { chosen: promo.chosen, reasons: promo.reasons, promoted_at: Math.floor(promo.updatedAt / 1000) } : {}),
  };
}
