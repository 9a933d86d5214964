/**
 * The start-up sweep on a real libsql file and embedded S3 server: leftovers whose owner is known to be
 * gone go at once (scratch and staged uploads of a dead process on this host, staging of a job attempt
 * that no longer runs, expired presigned uploads); leftovers of unknown owners and model objects without
 * a row go only after the grace period; live owners' files and existing models' objects stay.
 */
import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { sql } from 'drizzle-orm';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openLibsql, type OpenDb } from '../db/open-libsql.ts';
import { findOpenUpload, insertUpload } from '../db/queries/uploads.ts';
import { insertModel } from '../db/queries/models.ts';
import { startEmbeddedS3, type EmbeddedS3 } from '../storage/embedded-s3.ts';
import { ObjectStore } from '../storage/object-store.ts';
import { processTag, scratchFolder, scratchRoot } from '../storage/scratch.ts';
import { JobQueue } from './queue.ts';
import { sweepLeftovers } from './sweep.ts';

let dir: string;
let s3: EmbeddedS3;
let opened: OpenDb;
let store: ObjectStore;
let deadPid: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fg-sweep-'));
  s3 = await startEmbeddedS3({ directory: join(dir, 's3'), bucket: 'b', port: 0, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  opened = await openLibsql(`file:${join(dir, 'db.sqlite')}`);
  store = new ObjectStore({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'b', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });
  const child = spawn(process.execPath, ['-e', '']);
  deadPid = child.pid!;
  await new Promise((r) => child.once('exit', r));
});
afterAll(async () => {
  await s3.close();
  opened.close();
  await rm(dir, { recursive: true, force: true });
});

async function openMultipart(key: string): Promise<string> {
  const out = await store.client.send(new CreateMultipartUploadCommand({ Bucket: 'b', Key: key }));
  await store.client.send(new UploadPartCommand({ Bucket: 'b', Key: key, UploadId: out.UploadId, PartNumber: 1, Body: new Uint8Array(10) }));
  return out.UploadId!;
}

it('removes what dead owners left at once, unknown owners after the grace period, and keeps live work', async () => {
  const db = opened.db;
  const dataDir = join(dir, 'data');
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '_');
  const now = Date.now();
  // scratch: a dead process's folder, a live one's (this process), and a stray file
  await mkdir(join(scratchRoot(dataDir), `${deadPid}-1-job-x`), { recursive: true });
  await writeFile(join(scratchRoot(dataDir), `${deadPid}-1-job-x`, 'weights.bin'), 'x');
  const mine = await scratchFolder(dataDir, 'upload-');
  await writeFile(join(scratchRoot(dataDir), 'stray'), 'x');

  // models and jobs: one running job (attempt 2), one model with no row
  await insertModel(db, { id: 'mdl_live', name: 'live', sourceBucket: 'b', sourceKey: 'k', createdAt: now });
  const queue = new JobQueue(db, { leaseMs: 60_000, maxAttempts: 3, retryBaseMs: 0 });
  await queue.enqueue({ id: 'job_live', modelId: 'mdl_live', idempotencyKey: 'k1', params: {}, sourceBucket: 'b', sourceKey: 'k' });
  await queue.claim('w');
  await db.run(sql`update jobs set attempts = 2 where id = 'job_live'`); // as if attempt 1 died and 2 runs
  await store.put('models/mdl_live/original/upload.tar', 'live');
  await store.put('models/mdl_gone/original/upload.tar', 'orphan');
  await store.put('tmp/job-job_live-1/original/hf/a', 'dead attempt');
  await store.put('tmp/job-job_live-2/original/hf/a', 'running attempt');
  await store.put('tmp/job-job_nope-1/x', 'job of a deleted model');
  await store.put(`tmp/upload/${host}/${deadPid}-1/mdl_a/upload.tar`, 'dead upload');
  await store.put(`tmp/upload/${processTag()}/mdl_b/upload.tar`, 'my upload in progress');
  await store.put('tmp/upload/elsewhere/1-1/mdl_c/upload.tar', 'another host');
  const deadMultipart = await openMultipart(`tmp/upload/${host}/${deadPid}-1/mdl_d/upload.tar`);
  const otherMultipart = await openMultipart('tmp/upload/elsewhere/1-1/mdl_e/upload.tar');
  // presigned uploads: one expired, one open
  const expiredId = await openMultipart('tmp/presigned-upl_old/upload.tar');
  const openId = await openMultipart('tmp/presigned-upl_new/upload.tar');
  await insertUpload(db, { id: 'upl_old', name: 'old', key: 'tmp/presigned-upl_old/upload.tar', s3UploadId: expiredId, size: 10, params: {}, createdAt: now - 10_000, expiresAt: now - 1 });
  await insertUpload(db, { id: 'upl_new', name: 'new', key: 'tmp/presigned-upl_new/upload.tar', s3UploadId: openId, size: 10, params: {}, createdAt: now, expiresAt: now + 60_000 });

  const first = await sweepLeftovers({ db, store, dataDir, graceMs: 3_600_000 });
  expect(first.scratch.sort()).toEqual([`${deadPid}-1-job-x`, 'stray']);
  expect(await readdir(scratchRoot(dataDir))).toEqual([mine.split('/').at(-1)]);
  expect(first.expiredUploads).toEqual(['upl_old']);
  expect(await findOpenUpload(db, 'upl_old')).toBeUndefined();
  expect(first.multipartUploads).toEqual([deadMultipart]);
  expect((await store.openMultipartUploads('')).map((u) => u.uploadId).sort()).toEqual([otherMultipart, openId].sort());
  expect((await store.list('')).map((o) => o.key).sort()).toEqual(
    [
      'models/mdl_gone/original/upload.tar', // no row, but younger than the grace period
      'models/mdl_live/original/upload.tar',
      'tmp/job-job_live-2/original/hf/a',
      `tmp/upload/${processTag()}/mdl_b/upload.tar`,
      'tmp/upload/elsewhere/1-1/mdl_c/upload.tar',
    ].sort(),
  );
  expect(first.orphanModels).toEqual([]);

  const second = await sweepLeftovers({ db, store, dataDir, graceMs: 0, now: Date.now() + 1000 });
  expect(second.orphanModels).toEqual(['mdl_gone']);
  expect(second.multipartUploads).toEqual([otherMultipart]);
  expect((await store.list('')).map((o) => o.key).sort()).toEqual(
    ['models/mdl_live/original/upload.tar', 'tmp/job-job_live-2/original/hf/a', `tmp/upload/${processTag()}/mdl_b/upload.tar`].sort(),
  );
  expect((await store.openMultipartUploads('')).map((u) => u.uploadId)).toEqual([openId]);
});
