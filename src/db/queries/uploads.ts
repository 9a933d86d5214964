/**
 * @module Queries on `uploads` (presigned multipart uploads in progress).
 */
import { and, eq, lt, lte } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { uploads } from '../schema.ts';

/** An upload row. */
export type UploadRow = typeof uploads.$inferSelect;

/** Records a started upload. */
export async function insertUpload(db: Db, row: typeof uploads.$inferInsert): Promise<void> {
  await db.insert(uploads).values(row);
}

/** The open upload `id`, or undefined. */
export async function findOpenUpload(db: Db, id: string): Promise<UploadRow | undefined> {
  const [row] = await db.select().from(uploads).where(and(eq(uploads.id, id), eq(uploads.status, 'open')));
  return row;
}

/** Closes an upload; false when it was not open (a concurrent completion won). */
export async function closeUpload(db: Db, id: string, status: 'completed' | 'aborted'): Promise<boolean> {
  const out = await db.update(uploads).set({ status }).where(and(eq(uploads.id, id), eq(uploads.status, 'open'))).returning({ id: uploads.id });
  return out.length > 0;
}

/** Open uploads whose expiry has passed by `now`. */
export function expiredOpenUploads(db: Db, now: number): Promise<UploadRow[]> {
  return db.select().from(uploads).where(and(eq(uploads.status, 'open'), lte(uploads.expiresAt, now)));
}

/** Every open upload. */
export function openUploads(db: Db): Promise<UploadRow[]> {
  return db.select().from(uploads).where(eq(uploads.status, 'open'));
}

/** Closes the open uploads holding `keyId`'s quota that expired before `now`; returns the bytes they held. */
export async function expireQuotaUploads(db: Db, keyId: string, now: number): Promise<number> {
  const out = await db
    .update(uploads)
    .set({ status: 'aborted' })
    .where(and(eq(uploads.quotaKeyId, keyId), eq(uploads.status, 'open'), lt(uploads.expiresAt, now)))
    .returning({ size: uploads.size });
  return out.reduce((n, r) => n + r.size, 0);
}
