/**
 * Bucket-event intake on a real libsql DB and embedded S3 server: an object under uploads/ starts one
 * job per version (bucket + key + etag) however often its event repeats; a new version starts a new
 * job; pipeline keys, other prefixes and other buckets start nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openLibsql, type OpenDb } from '../db/open-libsql.ts';
import { startEmbeddedS3, type EmbeddedS3 } from '../storage/embedded-s3.ts';
import { ObjectStore } from '../storage/object-store.ts';
import type { CreatedObject } from '../storage/s3-events.ts';
import { intakeCreatedObjects, nameFromKey } from './event-intake.ts';
import type { IntakeDeps } from './intake.ts';
import { JobQueue } from './queue.ts';

let dir: string;
let s3: EmbeddedS3;
let opened: OpenDb;
let deps: IntakeDeps;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fg-events-'));
  s3 = await startEmbeddedS3({ directory: join(dir, 's3'), bucket: 'b', port: 0, credentials: { accessKeyId: 'TESTKEY', secretAccessKey: 'test-secret-0123456789' } });
  opened = await openLibsql(`file:${join(dir, 'db.sqlite')}`);
  const store = new ObjectStore({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'b', accessKeyId: 'TESTKEY', secretAccessKey: 'test-secret-0123456789', forcePathStyle: true });
  deps = { db: opened.db, store, queue: new JobQueue(opened.db, { leaseMs: 1000, maxAttempts: 2, retryBaseMs: 10 }), uploadsPrefix: 'uploads/', maxUploadBytes: 1000 };
});
afterAll(async () => {
  opened.close();
  await s3.close();
  await rm(dir, { recursive: true, force: true });
});

const created = (key: string, etag: string | null = null, bucket = 'b'): CreatedObject => ({ bucket, key, size: null, etag });

it('starts one job per object version, ignoring repeats and pipeline objects', async () => {
  await deps.store.put('uploads/My Model v1.tar.gz', 'version one');
  const a = await intakeCreatedObjects(deps, [created('uploads/My Model v1.tar.gz'), created('uploads/My Model v1.tar.gz')]);
  expect(a.map((o) => o.action)).toEqual(['created', 'duplicate']);
  const again = await intakeCreatedObjects(deps, [created('uploads/My Model v1.tar.gz')]);
  expect(again[0]).toMatchObject({ action: 'duplicate' });
  if (a[0].action !== 'ignored' && again[0].action !== 'ignored') expect(again[0].job.id).toBe(a[0].job.id);

  await deps.store.put('uploads/My Model v1.tar.gz', 'version two!');
  const b = await intakeCreatedObjects(deps, [created('uploads/My Model v1.tar.gz')]);
  expect(b[0].action).toBe('created');

  await deps.store.put('models/m/original/upload.tar', 'x');
  await deps.store.put('elsewhere/x.tar', 'x');
  const ignored = await intakeCreatedObjects(deps, [
    created('models/m/original/upload.tar'),
    created('tmp/job-1/x'),
    created('elsewhere/x.tar'),
    created('uploads/x.tar', 'e', 'other-bucket'),
    created('uploads/gone.tar'),
  ]);
  expect(ignored.map((o) => o.action)).toEqual(['ignored', 'ignored', 'ignored', 'ignored', 'ignored']);

  const models = await opened.db.query.models.findMany();
  expect(models.map((m) => m.name).sort()).toEqual(['My-Model-v1', expect.stringMatching(/^My-Model-v1-[0-9a-f]{8}$/)].sort());
  expect(await opened.db.query.jobs.findMany()).toHaveLength(2);
  expect(nameFromKey('uploads/../..x.tgz')).toBe('x');
});
