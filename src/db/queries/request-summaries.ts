/**
 * @module Queries on `request_summaries`: a gateway's per-minute summaries written as upserts on
 * (gateway, minute, variant, measure), every gateway's rows read back for a window, old minutes swept.
 */
import { and, gte, inArray, lt, ne, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { requestSummaries } from '../schema.ts';

/** A summary row as the serving layer writes and reads it. */
export interface SummaryRecord {
  gateway: string;
  minute: number;
  variant: string;
  measure: string;
  count: number;
  sum: number;
  sketch: string | null;
}

/** Rows per INSERT: 8 bound values a row stays far below SQLite's variable limit. */
const CHUNK = 100;

/** Inserts rows, replacing this gateway's earlier state of the same (minute, variant, measure). */
export async function upsertSummaries(db: Db, rows: readonly SummaryRecord[], now = Date.now()): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    const values = rows.slice(i, i + CHUNK).map((r) => ({ ...r, updatedAt: now }));
    await db
      .insert(requestSummaries)
      .values(values)
      .onConflictDoUpdate({
        target: [requestSummaries.gateway, requestSummaries.minute, requestSummaries.variant, requestSummaries.measure],
        set: { count: sql`excluded.count`, sum: sql`excluded.sum`, sketch: sql`excluded.sketch`, updatedAt: sql`excluded.updated_at` },
      });
  }
}

/** Every gateway's rows of `variants` for minutes at or after `since`. */
export async function readSummaries(db: Db, variants: readonly string[], since: number): Promise<SummaryRecord[]> {
  if (variants.length === 0) return [];
  const t = requestSummaries;
  return db
    .select({ gateway: t.gateway, minute: t.minute, variant: t.variant, measure: t.measure, count: t.count, sum: t.sum, sketch: t.sketch })
    .from(t)
    .where(and(inArray(t.variant, [...variants]), gte(t.minute, since)));
}

/** Deletes rows of minutes before `before`; returns how many. */
export async function sweepSummaries(db: Db, before: number): Promise<number> {
  const gone = await db.delete(requestSummaries).where(lt(requestSummaries.minute, before)).returning({ minute: requestSummaries.minute });
  return gone.length;
}

const HOUR_MS = 3_600_000;

/** The batch call libsql's and D1's drizzle databases share (not on the driver-neutral type). */
type Batchable = { batch(queries: unknown[]): Promise<unknown> };

/**
 * Compacts every hour that ends before `before` and still has per-gateway minute rows: its rows are read
 * and replaced by what `merge` makes of them, the delete and the inserts in one batch (one transaction
 * that never yields mid-way). Gateways never write minutes that old (serving/summaries.ts
 * WRITE_HORIZON_MS), so two gateways compacting at once read the same rows and write the same rollup.
 * Returns the hours compacted.
 */
export async function compactSummaries(db: Db, before: number, rollup: string, merge: (rows: SummaryRecord[], hour: number) => SummaryRecord[]): Promise<number> {
  const t = requestSummaries;
  const hours = await db
    .selectDistinct({ hour: sql<number>`(${t.minute} / ${sql.raw(String(HOUR_MS))}) * ${sql.raw(String(HOUR_MS))}` })
    .from(t)
    .where(and(lt(t.minute, before), ne(t.gateway, rollup)));
  for (const { hour } of hours) {
    const inHour = and(gte(t.minute, hour), lt(t.minute, hour + HOUR_MS));
    const rows = await db.select({ gateway: t.gateway, minute: t.minute, variant: t.variant, measure: t.measure, count: t.count, sum: t.sum, sketch: t.sketch }).from(t).where(inHour);
    if (!rows.some((r) => r.gateway !== rollup)) continue;
    const now = Date.now();
    const merged = merge(rows, hour).map((r) => ({ ...r, updatedAt: now }));
    const inserts = [];
    for (let i = 0; i < merged.length; i += CHUNK) inserts.push(db.insert(t).values(merged.slice(i, i + CHUNK)).onConflictDoNothing());
    await (db as unknown as Batchable).batch([db.delete(t).where(inHour), ...inserts]);
  }
  return hours.length;
}

/** Deletes every row of `variants` (when a model is deleted, so a new model of the same name starts clean). */
export async function deleteSummariesOf(db: Db, variants: readonly string[]): Promise<void> {
  if (variants.length) await db.delete(requestSummaries).where(inArray(requestSummaries.variant, [...variants]));
}

/** The summary store of the serving layer over this database. */
export function dbSummaryStore(db: Db) {
  return {
    upsert: (rows: readonly SummaryRecord[]) => upsertSummaries(db, rows),
    read: (variants: readonly string[], since: number) => readSummaries(db, variants, since),
    sweep: (before: number) => sweepSummaries(db, before),
    compact: (before: number, merge: (rows: SummaryRecord[], hour: number) => SummaryRecord[]) => compactSummaries(db, before, '*', merge), // '*': ROLLUP_GATEWAY (serving/summaries.ts)
  };
}
