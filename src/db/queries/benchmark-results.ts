/**
 * @module Queries on `benchmark_results`: matched-workload benchmarks, the latest few kept per model.
 */
import { and, desc, eq, lt } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { benchmarkResults } from '../schema.ts';

/** Benchmarks kept per model; older ones are deleted when a new one is saved. */
export const KEEP_PER_MODEL = 20;

/** Saves a benchmark of `model` and prunes the oldest beyond KEEP_PER_MODEL. */
export async function saveBenchmark(db: Db, model: string, result: Record<string, unknown>, now = Date.now()): Promise<void> {
  const t = benchmarkResults;
  await db.insert(t).values({ id: crypto.randomUUID(), model, createdAt: now, result });
  const kept = await db.select({ createdAt: t.createdAt }).from(t).where(eq(t.model, model)).orderBy(desc(t.createdAt)).limit(1).offset(KEEP_PER_MODEL - 1);
  if (kept.length) await db.delete(t).where(and(eq(t.model, model), lt(t.createdAt, kept[0].createdAt)));
}

/** The latest benchmark of `model`, or null. */
export async function latestBenchmark(db: Db, model: string): Promise<Record<string, unknown> | null> {
  const t = benchmarkResults;
  const [row] = await db.select({ result: t.result }).from(t).where(eq(t.model, model)).orderBy(desc(t.createdAt)).limit(1);
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
