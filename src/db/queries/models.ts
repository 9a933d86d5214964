/**
 * @module Queries on `models`.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { modelNames, models } from '../schema.ts';

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

/** The owner a name is reserved for ('' for the operator), or undefined when it was never taken. */
export async function nameReservedFor(db: Db, name: string): Promise<string | undefined> {
  const [row] = await db.select({ owner: modelNames.owner }).from(modelNames).where(eq(modelNames.name, name));
  return row?.owner;
}

/**
 * Reserves `name` for `owner` ('' for the operator) if nobody has it; true when it is (now or already)
 * that owner's. One statement, so two uploads racing for a name cannot both win it.
 */
export async function reserveName(db: Db, name: string, owner: string): Promise<boolean> {
  await db.insert(modelNames).values({ name, owner, createdAt: Date.now() }).onConflictDoNothing();
  return (await nameReservedFor(db, name)) === owner;
}
