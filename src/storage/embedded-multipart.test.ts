/**
 * The embedded server answers ListMultipartUploads and AbortMultipartUpload like S3: an upload with a
 * part lands in the listing (filtered by prefix), an abort removes it and its parts from disk, and the
 * object is never created.
 */
import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmbeddedS3, type EmbeddedS3 } from './embedded-s3.ts';
import { ObjectStore } from './object-store.ts';

let dir: string;
let s3: EmbeddedS3;
let store: ObjectStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fg-mp-'));
  s3 = await startEmbeddedS3({ directory: join(dir, 's3'), bucket: 'b', port: 0, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  store = new ObjectStore({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'b', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });
});
afterAll(async () => {
  await s3.close();
  await rm(dir, { recursive: true, force: true });
});

async function start(key: string): Promise<string> {
  const out = await store.client.send(new CreateMultipartUploadCommand({ Bucket: 'b', Key: key }));
  await store.client.send(new UploadPartCommand({ Bucket: 'b', Key: key, UploadId: out.UploadId, PartNumber: 1, Body: new Uint8Array(1000).fill(7) }));
  return out.UploadId!;
}

it('lists open multipart uploads by prefix and aborts them', async () => {
  const before = Date.now();
  const a = await start('tmp/upload-1/upload.tar');
  const b = await start('uploads/other.tar');
  const listed = await store.openMultipartUploads('tmp/');
  expect(listed.map((u) => [u.key, u.uploadId])).toEqual([['tmp/upload-1/upload.tar', a]]);
  expect(listed[0].initiated).toBeGreaterThan(before - 5000);
  expect(listed[0].initiated).toBeLessThanOrEqual(Date.now() + 1000);
  expect((await store.openMultipartUploads('')).length).toBe(2);

  await store.abortMultipartUpload('tmp/upload-1/upload.tar', a);
  await store.abortMultipartUpload('tmp/upload-1/upload.tar', a); // twice is fine
  expect(await store.openMultipartUploads('tmp/')).toEqual([]);
  expect((await store.openMultipartUploads('')).map((u) => u.uploadId)).toEqual([b]);
  expect(await readdir(join(dir, 's3', 'b', '._S3rver_uploads'))).toEqual([b]);
  expect(await store.head('tmp/upload-1/upload.tar')).toBeNull();
});
