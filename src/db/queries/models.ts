/**
 * @module Queries on `models`.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { models } from '../schema.ts';

/** A model row. */
export type ModelRow = typeof models.$inferSelect;

/** Inserts a model; false when its name is taken. */
export async function insertModel(db: Db, row: typeof models.$inferInsert): Promise<boolean> {
  const out = await db.insert(models).values(row).onConflictDoNothing().returning({ id: models.id });
  return out.length > 0;
}

/** The model `id`, or undefined. */
export async function findModel(db: Db, id: string): Promise<ModelRow | undefined> {
  const [row] = await db.select().from(models).where(eq(models.id, id));
  return row;
}

/** The model called `name`, or undefined. */
export async function findModelByName(db: Db, name: string): Promise<ModelRow | undefined> {
  const [row] = await db.select().from(models).where(eq(models.name, name));
  return row;
}

/** Sets a model's status. */
export async function setModelStatus(db: Db, id: string, status: ModelRow['status']): Promise<void> {
  await db.update(models).set({ status }).where(eq(models.id, id));
}

/** Deletes a model (its variants and jobs go with it). */
export async function deleteModel(db: Db, id: string): Promise<void> {
  await db.delete(models).where(eq(models.id, id));
}

/** Every model, oldest first. */
export function listModels(db: Db): Promise<ModelRow[]> {
  return db.select().from(models).orderBy(models.createdAt);
}

/** Replaces a model's verdict criteria (null: back to the defaults). */
export async function setModelCriteria(db: Db, id: string, criteria: ModelRow['criteria']): Promise<void> {
  await db.update(models).set({ criteria }).where(eq(models.id, id));
}
