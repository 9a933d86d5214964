/**
 * @module Queries on `ab_routes`: the A/B routes a gateway restores at start.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { abRoutes } from '../schema.ts';

export type AbRouteRow = typeof abRoutes.$inferSelect;

export function listAbRoutes(db: Db): Promise<AbRouteRow[]> {
  return db.select().from(abRoutes);
}

export async function saveAbRoute(db: Db, row: Omit<AbRouteRow, 'updatedAt'>): Promise<void> {
  const updatedAt = Date.now();
  await db
    .insert(abRoutes)
    .values({ ...row, updatedAt })
    .onConflictDoUpdate({ target: abRoutes.model, set: { arms: row.arms, shadowRate: row.shadowRate, updatedAt } });
}

export async function deleteAbRoute(db: Db, model: string): Promise<void> {
  await db.delete(abRoutes).where(eq(abRoutes.model, model));
}

/** The router's store over this table. */
export function abRouteStore(db: Db) {
  return {
    save: (r: { model: string; arms: AbRouteRow['arms']; shadowRate: number }) => saveAbRoute(db, { model: r.model, arms: r.arms, shadowRate: r.shadowRate }),
    remove: (model: string) => deleteAbRoute(db, model),
  };
}
