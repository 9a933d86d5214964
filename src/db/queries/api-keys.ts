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

/**
 * Reserves `bytes` of a key's upload quota in one conditional statement, so parallel uploads cannot
 * together pass the quota; false when it has not that much left.
 */
export async function reserveUploadBytes(db: Db, id: string, bytes: number): Promise<boolean> {
  const out = await db
    .update(apiKeys)
    .set({ uploadedBytes: sql`${apiKeys.uploadedBytes} + ${bytes}` })
    .where(and(eq(apiKeys.id, id), sql`${apiKeys.uploadedBytes} + ${bytes} <= ${apiKeys.uploadQuota}`))
    .returning({ id: apiKeys.id });
  return out.length > 0;
}

/** Gives back reserved bytes an upload did not use. */
export async function releaseUploadBytes(db: Db, id: string, bytes: number): Promise<void> {
  if (bytes <= 0) return;
  await db.update(apiKeys).set({ uploadedBytes: sql`max(0, ${apiKeys.uploadedBytes} - ${bytes})` }).where(eq(apiKeys.id, id));
}

/** A key's quota and what it has used or reserved, read now. */
export async function uploadTally(db: Db, id: string): Promise<{ quota: number; used: number } | undefined> {
  const [row] = await db.select({ quota: apiKeys.uploadQuota, used: apiKeys.uploadedBytes }).from(apiKeys).where(eq(apiKeys.id, id));
  return row;
}
