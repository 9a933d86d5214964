/**
 * @module Queries on `request_summaries`: a gateway's per-minute summaries written as upserts on
 * (gateway, minute, variant, measure), every gateway's rows read back for a window (whole, or a page at
 * a time for the Worker's summary endpoints), old minutes swept, closed hours compacted.
 */
import { and, asc, eq, gte, inArray, lt, ne, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { atomically } from '../atomic.ts';
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

/** Rows per INSERT: D1 binds at most 100 values per statement, and a row binds 8. */
const CHUNK = 12;

/**
 * Inserts rows, replacing this gateway's earlier state of the same (minute, variant, measure); all of
 * them in one batch, so a flush is written whole or not at all.
 */
export async function upsertSummaries(db: Db, rows: readonly SummaryRecord[], now = Date.now()): Promise<void> {
  const inserts = [];
  for (let i = 0; i < rows.length; i += CHUNK) {
    const values = rows.slice(i, i + CHUNK).map((r) => ({ ...r, updatedAt: now }));
    inserts.push(
      db
        .insert(requestSummaries)
        .values(values)
        .onConflictDoUpdate({
          target: [requestSummaries.gateway, requestSummaries.minute, requestSummaries.variant, requestSummaries.measure],
          set: { count: sql`excluded.count`, sum: sql`excluded.sum`, sketch: sql`excluded.sketch`, updatedAt: sql`excluded.updated_at` },
        }),
    );
  }
  await atomically(db, inserts);
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

/** Where a page of one variant's rows ended: the last row's minute and rowid (the index's order). */
export interface SummaryCursor {
  minute: number;
  rowid: number;
}

/**
 * A page of one variant's rows for minutes at or after `since`, in (minute, rowid) order after `after`,
 * and the cursor of the next page (null: this was the last). The order is the (variant, minute) index's,
 * so each page reads only the rows it returns.
 */
export async function readSummaryPage(db: Db, variant: string, since: number, after: SummaryCursor | null, limit: number): Promise<{ rows: SummaryRecord[]; next: SummaryCursor | null }> {
  const t = requestSummaries;
  const rowid = sql<number>`rowid`;
  const found = await db
    .select({ gateway: t.gateway, minute: t.minute, variant: t.variant, measure: t.measure, count: t.count, sum: t.sum, sketch: t.sketch, rowid })
    .from(t)
    .where(and(eq(t.variant, variant), gte(t.minute, since), after ? sql`(${t.minute}, rowid) > (${after.minute}, ${after.rowid})` : undefined))
    .orderBy(asc(t.minute), rowid)
    .limit(limit + 1);
  const page = found.slice(0, limit);
  const last = page.at(-1);
  return { rows: page.map(({ rowid: _r, ...r }) => r), next: found.length > limit && last ? { minute: last.minute, rowid: last.rowid } : null };
}

/** Deletes rows of minutes before `before`; returns how many. */
export async function sweepSummaries(db: Db, before: number): Promise<number> {
  const gone = await db.delete(requestSummaries).where(lt(requestSummaries.minute, before)).returning({ minute: requestSummaries.minute });
  return gone.length;
}

const HOUR_MS = 3_600_000;

/**
 * Compacts, variant by variant, every hour that ends before `before` and still has per-gateway minute
 * rows: the rows of that hour and variant are read and replaced by what `merge` makes of them, the delete
 * and the inserts in one batch (one transaction that never yields mid-way). Gateways never write minutes
 * that old (serving/summaries.ts WRITE_HORIZON_MS), so two gateways compacting at once read the same rows
 * and write the same rollup. At most `maxPairs` (hour, variant) pairs are done per call (the Worker's
 * requests are bounded; the next call goes on). Returns the pairs compacted.
 */
export async function compactSummaries(db: Db, before: number, rollup: string, merge: (rows: SummaryRecord[], hour: number) => SummaryRecord[], maxPairs = Infinity): Promise<number> {
  const t = requestSummaries;
  const hourOf = sql<number>`(${t.minute} / ${sql.raw(String(HOUR_MS))}) * ${sql.raw(String(HOUR_MS))}`;
  const pairs = await db
    .selectDistinct({ hour: hourOf, variant: t.variant })
    .from(t)
    .where(and(lt(t.minute, before), ne(t.gateway, rollup)))
    .orderBy(hourOf, t.variant)
    .limit(Number.isFinite(maxPairs) ? maxPairs : Number.MAX_SAFE_INTEGER);
  for (const { hour, variant } of pairs) {
    const inPair = and(eq(t.variant, variant), gte(t.minute, hour), lt(t.minute, hour + HOUR_MS));
    const rows = await db.select({ gateway: t.gateway, minute: t.minute, variant: t.variant, measure: t.measure, count: t.count, sum: t.sum, sketch: t.sketch }).from(t).where(inPair);
    if (!rows.some((r) => r.gateway !== rollup)) continue;
    const now = Date.now();
    const merged = merge(rows, hour).map((r) => ({ ...r, updatedAt: now }));
    const inserts = [];
    for (let i = 0; i < merged.length; i += CHUNK) inserts.push(db.insert(t).values(merged.slice(i, i + CHUNK)).onConflictDoNothing());
    await atomically(db, [db.delete(t).where(inPair), ...inserts]);
  }
  return pairs.length;
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
