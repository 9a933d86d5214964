/**
 * Job completion and model deletion as atomic services on a real libsql file: completion writes the
 * job, the variants and the model status together, or (lease lost, model deleted, a bad row) nothing;
 * deletion removes every row of the model and its objects.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openLibsql, type OpenDb } from '../db/open-libsql.ts';
import { listAbRoutes, saveAbRoute } from '../db/queries/ab-routes.ts';
import { findJob } from '../db/queries/jobs.ts';
import { findModel, insertModel } from '../db/queries/models.ts';
import { variantsOfModel } from '../db/queries/variants.ts';
import { startEmbeddedS3, type EmbeddedS3 } from '../storage/embedded-s3.ts';
import { ObjectStore } from '../storage/object-store.ts';
import { completeJobWithVariants, type ReportedVariant } from './complete-job.ts';
import { deleteModelEverywhere } from './delete-model.ts';
import { JobGone, JobQueue, LeaseLost } from './queue.ts';

let dir: string;
let opened: OpenDb;
let s3: EmbeddedS3;
let store: ObjectStore;
let queue: JobQueue;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fg-complete-'));
  opened = await openLibsql(`file:${join(dir, 'db.sqlite')}`);
  s3 = await startEmbeddedS3({ directory: join(dir, 's3'), bucket: 'b', port: 0, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  store = new ObjectStore({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'b', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });
  queue = new JobQueue(opened.db, { leaseMs: 60_000, maxAttempts: 3, retryBaseMs: 0 });
});
afterAll(async () => {
  await s3.close();
  opened.close();
  await rm(dir, { recursive: true, force: true });
});

const variant = (name: string, method: string, layers: number): ReportedVariant => ({
  name,
  method,
  layers,
  params: 1000 * layers,
  bytes: 4000 * layers,
  evaluation: { ppl: 10 + layers, tasks: {}, agreement: {} },
  report: method === 'original' ? null : { method },
});

async function modelWithRunningJob(name: string): Promise<{ modelId: string; jobId: string; lease: string }> {
  const modelId = `mdl_${name}`;
  await insertModel(opened.db, { id: modelId, name, sourceBucket: 'b', sourceKey: `k/${name}`, createdAt: Date.now() });
  await queue.enqueue({ id: `job_${name}`, modelId, idempotencyKey: `key-${name}`, params: {}, sourceBucket: 'b', sourceKey: `k/${name}` });
  const claim = await queue.claim('w1');
  expect(claim?.job.id).toBe(`job_${name}`);
  return { modelId, jobId: `job_${name}`, lease: claim!.lease };
}

it('completes job, variants and model status in one write, and replaces a re-published variant', async () => {
  const db = opened.db;
  const { modelId, jobId, lease } = await modelWithRunningJob('one');
  const out = await completeJobWithVariants(db, jobId, lease, [variant('original', 'original', 5), variant('shortgpt-20', 'shortgpt', 4)], 1_000_000);
  expect(out).toEqual({ modelId, served: ['one', 'one:shortgpt-20'] });
  expect(await findJob(db, jobId)).toMatchObject({ status: 'done', leaseOwner: null, finishedAt: 1_000_000, progress: 1 });
  expect((await findModel(db, modelId))?.status).toBe('ready');
  const rows = await variantsOfModel(db, modelId);
  expect(rows.map((v) => [v.id, v.status, v.layers, v.prefix, v.createdAt])).toEqual([
    ['one', 'ready', 5, `models/${modelId}/original/`, 1_000_000],
    ['one:shortgpt-20', 'ready', 4, `models/${modelId}/shortgpt-20/`, 1_000_000],
  ]);
  expect(rows[1].evaluation).toEqual({ ppl: 14, tasks: {}, agreement: {} });
  expect(rows[1].report).toEqual({ method: 'shortgpt' });
  // completing again under the old lease changes nothing
  await expect(completeJobWithVariants(db, jobId, lease, [variant('original', 'original', 3)], 2_000_000)).rejects.toBeInstanceOf(LeaseLost);
  expect((await variantsOfModel(db, modelId)).map((v) => [v.layers, v.createdAt])).toEqual([
    [5, 1_000_000],
    [4, 1_000_000],
  ]);
});

it('writes nothing when the lease is lost or a statement fails, and says when the model is gone', async () => {
  const db = opened.db;
  const { modelId, jobId } = await modelWithRunningJob('two');
  await expect(completeJobWithVariants(db, jobId, 'someone-else', [variant('original', 'original', 5)])).rejects.toBeInstanceOf(LeaseLost);
  expect(await variantsOfModel(db, modelId)).toEqual([]);
  expect((await findModel(db, modelId))?.status).toBe('pending');

  const { lease } = { lease: (await findJob(db, jobId))!.leaseOwner! };
  // a variant violating NOT NULL fails the batch after the job row was updated: all of it rolls back
  const bad = { ...variant('broken', 'shortgpt', 4), layers: null as unknown as number };
  await expect(completeJobWithVariants(db, jobId, lease, [variant('original', 'original', 5), bad])).rejects.toThrow();
  expect(await findJob(db, jobId)).toMatchObject({ status: 'running', leaseOwner: lease });
  expect(await variantsOfModel(db, modelId)).toEqual([]);

  await deleteModelEverywhere({ db, store }, (await findModel(db, modelId))!);
  await expect(completeJobWithVariants(db, jobId, lease, [variant('original', 'original', 5)])).rejects.toBeInstanceOf(JobGone);
  await expect(queue.heartbeat(jobId, lease)).rejects.toMatchObject({ status: 410, code: 'model_deleted' });
});

it('deletes a model: route, variants, jobs and row in one write, then its objects and its jobs\' staging', async () => {
  const db = opened.db;
  const { modelId, jobId, lease } = await modelWithRunningJob('three');
  await completeJobWithVariants(db, jobId, lease, [variant('original', 'original', 5), variant('shortgpt-20', 'shortgpt', 4)]);
  await saveAbRoute(db, { model: 'three', arms: [{ variant: 'three', weight: 1 }], shadowRate: 0 });
  await saveAbRoute(db, { model: 'other', arms: [{ variant: 'other', weight: 1 }], shadowRate: 0 });
  await store.put(`models/${modelId}/original/upload.tar`, 'x');
  await store.put(`models/${modelId}/shortgpt-20/manifest.json`, '{}');
  await store.put(`tmp/job-${jobId}-1/shortgpt-20/hf/x`, 'x');
  await store.put('models/mdl_other/original/upload.tar', 'keep');
  await deleteModelEverywhere({ db, store }, (await findModel(db, modelId))!);
  expect(await findModel(db, modelId)).toBeUndefined();
  expect(await findJob(db, jobId)).toBeUndefined();
  expect(await variantsOfModel(db, modelId)).toEqual([]);
  expect((await listAbRoutes(db)).map((r) => r.model)).toEqual(['other']);
  expect((await store.list('')).map((o) => o.key)).toEqual(['models/mdl_other/original/upload.tar']);
});
