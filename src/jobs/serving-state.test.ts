/**
 * Two gateways' serving states on one libsql file: what one writes (a completed job, a route, a delete)
 * the other picks up at its next poll of the version row; a pool miss reloads at once; in-process and
 * announced entries are left alone; cache folders of deleted models go.
 */
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { abRouteStore } from '../db/queries/ab-routes.ts';
import { findModel, insertModel } from '../db/queries/models.ts';
import { openLibsql, type OpenDb } from '../db/open-libsql.ts';
import { loadModel } from '../model/load.ts';
import { AbRouter } from '../serving/ab-router.ts';
import { ModelPool } from '../serving/model-pool.ts';
import { startEmbeddedS3, type EmbeddedS3 } from '../storage/embedded-s3.ts';
import { ObjectStore } from '../storage/object-store.ts';
import { STORIES260K } from '../../test/fixtures/paths.ts';
import { completeJobWithVariants } from './complete-job.ts';
import { deleteModelEverywhere } from './delete-model.ts';
import { JobQueue } from './queue.ts';
import { registerVariant } from './serve-variants.ts';
import { ServingState } from './serving-state.ts';

let dir: string;
let a: OpenDb;
let b: OpenDb;
let s3: EmbeddedS3;
let store: ObjectStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fg-state-'));
  // two connections to one file, as two processes would have
  a = await openLibsql(`file:${join(dir, 'db.sqlite')}`);
  b = await openLibsql(`file:${join(dir, 'db.sqlite')}`);
  s3 = await startEmbeddedS3({ directory: join(dir, 's3'), bucket: 'b', port: 0, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  store = new ObjectStore({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'b', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });
});
afterAll(async () => {
  a.close();
  b.close();
  await s3.close();
  await rm(dir, { recursive: true, force: true });
});

function gateway(db: OpenDb['db'], name: string) {
  const pool = new ModelPool();
  const router = new AbRouter(abRouteStore(db));
  const cacheDir = join(dir, `cache-${name}`);
  return { pool, router, cacheDir, state: new ServingState({ db, store, pool, router, cacheDir, pollMs: 60_000 }) };
}

const evaluation = { ppl: null, tasks: {}, agreement: {} };

it('mirrors variants, routes and deletions written through another connection', async () => {
  const A = gateway(a.db, 'a');
  const B = gateway(b.db, 'b');
  const demo = await loadModel(STORIES260K);
  B.pool.add('demo', demo); // in-process: never touched by the mirror
  registerVariant({ store, pool: B.pool, cacheDir: B.cacheDir }, { id: 'told', modelId: 'mdl_x', variant: 'original', parent: null, method: 'original' }, 'announced');
  await Promise.all([A.state.reload(), B.state.reload()]);

  // A completes a job
  await insertModel(a.db, { id: 'mdl_1', name: 'm', sourceBucket: 'b', sourceKey: 'k', createdAt: Date.now() });
  const queue = new JobQueue(a.db, { leaseMs: 60_000, maxAttempts: 1, retryBaseMs: 0 });
  await queue.enqueue({ id: 'job_1', modelId: 'mdl_1', idempotencyKey: 'k', params: {}, sourceBucket: 'b', sourceKey: 'k' });
  const claim = (await queue.claim('w'))!;
  const variant = (name: string, method: string) => ({ name, method, layers: 5, params: 10, bytes: 10, evaluation, report: null });
  await completeJobWithVariants(a.db, 'job_1', claim.lease, [variant('original', 'original'), variant('shortgpt-20', 'shortgpt')]);
  expect(B.pool.has('m:shortgpt-20')).toBe(false);
  await B.state.poll();
  expect(B.pool.list().map((m) => m.id).sort()).toEqual(['demo', 'm', 'm:shortgpt-20', 'told']);
  expect(B.pool.get('m:shortgpt-20').info).toMatchObject({ parent: 'm', method: 'shortgpt', origin: 'database' });

  // A sets a route; B applies it at its next poll (and not before)
  const arms = [
    { variant: 'm', weight: 1 },
    { variant: 'm:shortgpt-20', weight: 3 },
  ];
  await A.router.set({ model: 'm', arms, shadowRate: 0.5 });
  expect(B.router.get('m')).toBeUndefined();
  await B.state.poll();
  expect(B.router.get('m')).toEqual({ model: 'm', arms, shadowRate: 0.5 });
  for (const user of ['u1', 'u2', 'u3', 'u4']) expect(B.router.assign(B.router.get('m')!, user)).toEqual(A.router.assign(A.router.get('m')!, user));

  // a cache folder on B, then A deletes the model
  await mkdir(join(B.cacheDir, 'mdl_1', 'original'), { recursive: true });
  await deleteModelEverywhere({ db: a.db, store }, (await findModel(a.db, 'mdl_1'))!);
  await B.state.poll();
  expect(B.pool.list().map((m) => m.id).sort()).toEqual(['demo', 'told']);
  expect(B.router.get('m')).toBeUndefined();
  await expect(access(join(B.cacheDir, 'mdl_1'))).rejects.toThrow();
});

it('a pool miss reloads at once; a poll without a change reloads nothing', async () => {
  const C = gateway(b.db, 'c');
  await C.state.reload();
  await insertModel(a.db, { id: 'mdl_2', name: 'n', sourceBucket: 'b', sourceKey: 'k2', createdAt: Date.now() });
  const queue = new JobQueue(a.db, { leaseMs: 60_000, maxAttempts: 1, retryBaseMs: 0 });
  await queue.enqueue({ id: 'job_2', modelId: 'mdl_2', idempotencyKey: 'k2', params: {}, sourceBucket: 'b', sourceKey: 'k2' });
  const claim = (await queue.claim('w'))!;
  await completeJobWithVariants(a.db, 'job_2', claim.lease, [{ name: 'original', method: 'original', layers: 5, params: 10, bytes: 10, evaluation, report: null }]);
  await C.state.ensure('n');
  expect(C.pool.has('n')).toBe(true);
  const entry = C.pool.get('n');
  await C.state.poll();
  expect(C.pool.get('n')).toBe(entry); // same registration: loaded weights would be kept
});
