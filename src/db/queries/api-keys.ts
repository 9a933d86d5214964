/**
 * @module Queries on `api_keys`.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { apiKeys } from '../schema.ts';

/** An API key row (the key itself is never stored, only its hash). */
export type ApiKeyRow = typeof apiKeys.$inferSelect;

export async function insertApiKey(db: Db, row: typeof apiKeys.$inferInsert): Promise<void> {
  await db.insert(apiKeys).values(row);
}

/** The live (not revoked) key with this hash. */
export async function findLiveKeyByHash(db: Db, hash: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.select().from(apiKeys).where(and(eq(apiKeys.hash, hash), isNull(apiKeys.revokedAt)));
  return row;
}

export async function findKeyByName(db: Db, name: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.name, name));
  return row;
}

export function listApiKeys(db: Db): Promise<ApiKeyRow[]> {
  return db.select().from(apiKeys).orderBy(apiKeys.createdAt);
}

/** Revokes a key by id; false when there was no live key of that id. */
export async function revokeApiKey(db: Db, id: string, at = Date.now()): Promise<boolean> {
  const out = await db.update(apiKeys).set({ revokedAt: at }).where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt))).returning({ id: apiKeys.id });
  return out.length > 0;
}

/** Adds uploaded bytes to a key's tally. */
export async function addUploadedBytes(db: Db, id: string, bytes: number): Promise<void> {
  await db.update(apiKeys).set({ uploadedBytes: sql`${apiKeys.uploadedBytes} + ${bytes}` }).where(eq(apiKeys.id, id));
}
