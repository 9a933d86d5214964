/**
 * @module Queries on `variants`.
 */
import { asc, eq } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { variants } from '../schema.ts';

/** A variant row. */
export type VariantRow = typeof variants.$inferSelect;

/** Inserts or replaces the variant (`modelId`, `name`). */
export async function upsertVariant(db: Db, row: typeof variants.$inferInsert): Promise<void> {
  const { id: _id, modelId: _m, name: _n, createdAt: _c, ...rest } = row;
  await db.insert(variants).values(row).onConflictDoUpdate({ target: [variants.modelId, variants.name], set: rest });
}

/** Variants of one model, original first. */
export async function variantsOfModel(db: Db, modelId: string): Promise<VariantRow[]> {
  const rows = await db.select().from(variants).where(eq(variants.modelId, modelId)).orderBy(asc(variants.createdAt));
  return rows.sort((a, b) => Number(b.method === 'original') - Number(a.method === 'original'));
}

/** Every ready variant (to serve at boot). */
export function readyVariants(db: Db): Promise<VariantRow[]> {
  return db.select().from(variants).where(eq(variants.status, 'ready'));
}
