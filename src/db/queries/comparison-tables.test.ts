import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Db } from '../client.ts';
import { openLibsql, type OpenDb } from '../open-libsql.ts';
import { benchmarkResults } from '../schema.ts';
import { deleteBenchmarksOf, KEEP_PER_MODEL, latestBenchmark, saveBenchmark, saveBenchmarkOfModel } from './benchmark-results.ts';
import { deleteModel, insertModel } from './models.ts';
import { deleteSummariesOf, readSummaries, sweepSummaries, upsertSummaries } from './request-summaries.ts';

let dir: string;
let open: OpenDb;
let db: Db;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fg-cmp-db-'));
  open = await openLibsql(`file:${join(dir, 'db.sqlite')}`);
  db = open.db;
});
afterAll(async () => {
  open?.close();
  await rm(dir, { recursive: true, force: true });
});

it('keeps the latest benchmarks of a model, at most KEEP_PER_MODEL, and forgets them with the model', async () => {
  for (let i = 0; i < KEEP_PER_MODEL + 3; i++) await saveBenchmark(db, 'm', { n: i }, 1000 + i);
  await saveBenchmark(db, 'other', { n: -1 }, 5000);
  expect(await latestBenchmark(db, 'm')).toEqual({ n: KEEP_PER_MODEL + 2 });
  const kept = await db.select().from(benchmarkResults);
  expect(kept.filter((r) => r.model === 'm').map((r) => (r.result as { n: number }).n).sort((a, b) => a - b)).toEqual(Array.from({ length: KEEP_PER_MODEL }, (_, i) => i + 3));
  await deleteBenchmarksOf(db, 'm');
  expect(await latestBenchmark(db, 'm')).toBeNull();
  expect(await latestBenchmark(db, 'other')).toEqual({ n: -1 });
});

it('of two benchmarks saved in the same millisecond, the later one is the latest', async () => {
  await saveBenchmark(db, 'same-ms', { n: 1 }, 7000);
  await saveBenchmark(db, 'same-ms', { n: 2 }, 7000);
  expect(await latestBenchmark(db, 'same-ms')).toEqual({ n: 2 });
});

it('saves a benchmark of an uploaded model only while its row exists, and prunes the same way', async () => {
  await insertModel(db, { id: 'mdl_up', name: 'up', status: 'ready', sourceBucket: 'b', sourceKey: 'k', createdAt: 1 });
  for (let i = 0; i < KEEP_PER_MODEL + 2; i++) expect(await saveBenchmarkOfModel(db, { id: 'mdl_up', name: 'up' }, { n: i }, 1000 + i)).toBe(true);
  expect(await latestBenchmark(db, 'up')).toEqual({ n: KEEP_PER_MODEL + 1 });
  expect((await db.select().from(benchmarkResults)).filter((r) => r.model === 'up')).toHaveLength(KEEP_PER_MODEL);
  // a row of that name but another id (a later model), or no row at all: nothing is written
  expect(await saveBenchmarkOfModel(db, { id: 'mdl_other', name: 'up' }, { n: -1 }, 9000)).toBe(false);
  await deleteModel(db, 'mdl_up');
  expect(await saveBenchmarkOfModel(db, { id: 'mdl_up', name: 'up' }, { n: -2 }, 9001)).toBe(false);
  expect(await latestBenchmark(db, 'up')).toEqual({ n: KEEP_PER_MODEL + 1 });
});

it('upserts replace a gateway\'s row, sweeps drop old minutes, a deleted model\'s variants lose theirs', async () => {
  const row = (gateway: string, minute: number, variant: string, count: number) => ({ gateway, minute, variant, measure: 'requests', count, sum: count, sketch: null });
  await upsertSummaries(db, [row('a', 60_000, 'm', 1), row('b', 60_000, 'm', 2), row('a', 120_000, 'm', 3), row('a', 120_000, 'm:v', 4), row('a', 120_000, 'x', 5)]);
  await upsertSummaries(db, [row('a', 60_000, 'm', 7)]);
  const count = async (variants: string[], since = 0) => (await readSummaries(db, variants, since)).reduce((n, r) => n + r.count, 0);
  expect(await count(['m'])).toBe(7 + 2 + 3);
  expect(await count(['m', 'm:v'], 120_000)).toBe(3 + 4);
  expect(await sweepSummaries(db, 120_000)).toBe(2);
  expect(await count(['m'])).toBe(3);
  await deleteSummariesOf(db, ['m', 'm:v']);
  expect(await count(['m', 'm:v', 'x'])).toBe(5);
});
