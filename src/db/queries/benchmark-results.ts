/**
 * @module Queries on `benchmark_results`: matched-workload benchmarks, the latest few kept per model.
 */
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { benchmarkResults, models } from '../schema.ts';

/** Benchmarks kept per model; older ones are deleted when a new one is saved. */
export const KEEP_PER_MODEL = 20;

/** Deletes the benchmarks of `model` beyond the latest KEEP_PER_MODEL. */
async function pruneBenchmarks(db: Db, model: string): Promise<void> {
  const t = benchmarkResults;
  const kept = await db.select({ createdAt: t.createdAt }).from(t).where(eq(t.model, model)).orderBy(desc(t.createdAt)).limit(1).offset(KEEP_PER_MODEL - 1);
  if (kept.length) await db.delete(t).where(and(eq(t.model, model), lt(t.createdAt, kept[0].createdAt)));
}

/** Saves a benchmark of `model` and prunes the oldest beyond KEEP_PER_MODEL. */
export async function saveBenchmark(db: Db, model: string, result: Record<string, unknown>, now = Date.now()): Promise<void> {
  await db.insert(benchmarkResults).values({ id: crypto.randomUUID(), model, createdAt: now, result });
  await pruneBenchmarks(db, model);
}

/**
 * Saves a benchmark of the uploaded model `model` (its row's id and name) only while that row exists: one
 * insert-select, so a deletion that ran after the caller's checks leaves no row behind for a later model
 * of the same name. False when the model is gone.
 * @example if (!(await saveBenchmarkOfModel(db, row, result))) throw new ModelNotFound(row.name);
 */
export async function saveBenchmarkOfModel(db: Db, model: { id: string; name: string }, result: Record<string, unknown>, now = Date.now()): Promise<boolean> {
  const t = benchmarkResults;
  const value = <T>(x: T) => sql<T>`${x}`;
  const row = db
    .select({
      id: value(crypto.randomUUID()).as('id'),
      model: value(model.name).as('model'),
      createdAt: value(now).as('created_at'),
      result: sql<Record<string, unknown>>`${JSON.stringify(result)}`.as('result'),
    })
    .from(models)
    .where(and(eq(models.id, model.id), eq(models.name, model.name)));
  const inserted = await db.insert(t).select(row).returning({ id: t.id });
  if (inserted.length === 0) return false;
  await pruneBenchmarks(db, model.name);
  return true;
}

/** The latest benchmark of `model`, or null (of two saved in the same millisecond, the later insert). */
export async function latestBenchmark(db: Db, model: string): Promise<Record<string, unknown> | null> {
  const t = benchmarkResults;
  const [row] = await db.select({ result: t.result }).from(t).where(eq(t.model, model)).orderBy(desc(t.createdAt), desc(sql`rowid`)).limit(1);
  return row?.result ?? null;
}

/** Deletes every benchmark of `model`. */
export async function deleteBenchmarksOf(db: Db, model: string): Promise<void> {
  await db.delete(benchmarkResults).where(eq(benchmarkResults.model, model));
}

/** The benchmark store of the serving layer over this database. */
export function dbBenchmarkStore(db: Db) {
  return { save: (model: string, result: Record<string, unknown>) => saveBenchmark(db, model, result), latest: (model: string) => latestBenchmark(db, model) };
}
