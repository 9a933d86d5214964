/**
 * @module Queries on `route_promotions`: what auto-promotion chose for a model name, and why.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { routePromotions } from '../schema.ts';

export type RoutePromotionRow = typeof routePromotions.$inferSelect;

/** Records (or replaces) the promotion of `model`. */
export async function saveRoutePromotion(db: Db, row: Omit<RoutePromotionRow, 'updatedAt'>): Promise<void> {
  const updatedAt = Date.now();
  await db
    .insert(routePromotions)
    .values({ ...row, updatedAt })
    .onConflictDoUpdate({ target: routePromotions.model, set: { chosen: row.chosen, reasons: row.reasons, updatedAt } });
}

/** The promotion of `model`, or undefined when its route was set by hand (or not at all). */
export async function findRoutePromotion(db: Db, model: string): Promise<RoutePromotionRow | undefined> {
  const [row] = await db.select().from(routePromotions).where(eq(routePromotions.model, model));
  return row;
}

/** Forgets the promotion of `model` (its route was set by hand or deleted). */
export async function deleteRoutePromotion(db: Db, model: string): Promise<void> {
  await db.delete(routePromotions).where(eq(routePromotions.model, model));
}
