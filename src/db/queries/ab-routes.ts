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

/** The route on model name `model`, or undefined. */
export async function findAbRoute(db: Db, model: string): Promise<AbRouteRow | undefined> {
  const [row] = await db.select().from(abRoutes).where(eq(abRoutes.model, model));
  return row;
}

export async function saveAbRoute(db: Db, row: Omit<AbRouteRow, 'updatedAt'>): Promise<void> {
  const updatedAt = Date.now();
  await db
    .insert(abRoutes)
    .values({ ...row, updatedAt })
    .onConflictDoUpdate({ target: abRoutes.model, set: { arms: row.arms, shadowRate: row.shadowRate, updatedAt } });
}

/** Deletes the route on `model`; true when there was one. */
export async function deleteAbRoute(db: Db, model: string): Promise<boolean> {
  return (await db.delete(abRoutes).where(eq(abRoutes.model, model)).returning({ model: abRoutes.model })).length > 0;
}

/** The router's store over this table. */
export function abRouteStore(db: Db) {
  return {
    save: (r: { model: string; arms: AbRouteRow['arms']; shadowRate: number }) => saveAbRoute(db, { model: r.model, arms: r.arms, shadowRate: r.shadowRate }),
    remove: async (model: string) => void (await deleteAbRoute(db, model)),
  };
}
