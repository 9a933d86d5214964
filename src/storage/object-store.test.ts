/**
 * The object store against a real embedded S3 server (s3rver): streamed multipart puts arrive byte for
 * byte (no aws-chunked framing), listing pages past 1000 keys, variants publish with the manifest last,
 * presigned multipart uploads work with plain HTTP PUTs, and the server's events carry S3's shape.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedS3, type EmbeddedS3 } from './embedded-s3.ts';
import { isPipelineKey, manifestKey } from './layout.ts';
import { ObjectStore } from './object-store.ts';
import { completeMultipart, presignMultipart } from './presigned-upload.ts';
import { downloadVariant, publishFolder, readManifest } from './publish-folder.ts';
import { createdObjects, type S3EventNotification } from './s3-events.ts';

let dir: string;
let s3: EmbeddedS3;
let store: ObjectStore;
const events: S3EventNotification[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fg-s3-'));
  s3 = await startEmbeddedS3({ directory: join(dir, 's3'), bucket: 'test-bucket', port: 0, credentials: { accessKeyId: 'TESTKEY', secretAccessKey: 'test-secret-0123456789' } });
  s3.onEvent((e) => events.push(e));
  store = new ObjectStore({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'test-bucket', accessKeyId: 'TESTKEY', secretAccessKey: 'test-secret-0123456789', forcePathStyle: true });
});
afterAll(async () => {
  await s3.close();
  await rm(dir, { recursive: true, force: true });
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('ObjectStore on s3rver', () => {
  it('streams a 20 MiB body up in parts and reads back the same bytes', async () => {
    const data = randomBytes(20 * 2 ** 20 + 12345);
    const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
    const info = await store.put('a/big.bin', Readable.from(chunks));
    expect(info.size).toBe(data.length);
    const back: Buffer[] = [];
    for await (const c of await store.get('a/big.bin')) back.push(c as Buffer);
    expect(sha(Buffer.concat(back))).toBe(sha(data));
    expect(await store.head('a/missing')).toBeNull();
  });

  it('lists more than one page and deletes by prefix', async () => {
    const keys = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, 'x')));
    const listed = await store.list('many/');
    expect(listed.map((o) => o.key)).toEqual(keys);
    await store.deletePrefix('many/');
    expect(await store.list('many/')).toEqual([]);
  });

  it('publishes a folder via staging with the manifest last, keeps siblings, and downloads it back', async () => {
    const src = join(dir, 'variant');
    await mkdir(join(src, 'hf'), { recursive: true });
    await writeFile(join(src, 'hf', 'config.json'), '{"a":1}');
    await writeFile(join(src, 'hf', 'model.safetensors'), randomBytes(1000));
    await writeFile(join(src, 'report.json'), '{}');
    await store.put('models/m1/original/upload.tar', 'archive');
    await store.put('models/m1/original/hf/old-shard.safetensors', 'stale');
    expect(await readManifest(store, 'm1', 'original')).toBeNull();
    const m = await publishFolder(store, src, 'm1', 'original', 'job-1-1');
    expect(m.files.map((f) => f.path)).toEqual(['hf/config.json', 'hf/model.safetensors', 'report.json']);
    expect(m.bytes).toBe(7 + 1000 + 2);
    const keys = (await store.list('models/m1/')).map((o) => o.key);
    expect(keys).toEqual([
      'models/m1/original/hf/config.json',
      'models/m1/original/hf/model.safetensors',
      'models/m1/original/manifest.json',
      'models/m1/original/report.json',
      'models/m1/original/upload.tar',
    ]);
    expect(await store.list('tmp/')).toEqual([]);
    const created = events.flatMap((e) => createdObjects(e, false)).map((o) => o.key);
    const order = (k: string) => created.lastIndexOf(k);
    expect(order(manifestKey('m1', 'original'))).toBeGreaterThan(order('models/m1/original/hf/model.safetensors'));
    const out = join(dir, 'down');
    await downloadVariant(store, (await readManifest(store, 'm1', 'original'))!, 'hf', out);
    expect(await readFile(join(out, 'config.json'), 'utf8')).toBe('{"a":1}');
  });

  it('completes a presigned multipart upload made with plain HTTP PUTs', async () => {
    const data = randomBytes(11 * 2 ** 20);
    const up = await presignMultipart(store, 'tmp/presigned/x', data.length, { partSize: 5 * 2 ** 20 });
    expect(up.parts).toHaveLength(3);
    const parts = [];
    for (const p of up.parts) {
      const res = await fetch(p.url, { method: 'PUT', body: data.subarray((p.partNumber - 1) * up.partSize, p.partNumber * up.partSize) });
      expect(res.status).toBe(200);
      parts.push({ partNumber: p.partNumber, etag: res.headers.get('etag')! });
    }
    await completeMultipart(store, up.key, up.uploadId, parts);
    expect(sha(await store.getBytes('tmp/presigned/x'))).toBe(sha(data));
  });

  it("emits S3-shaped ObjectCreated events; pipeline keys are recognised", async () => {
    events.length = 0;
    await store.put('uploads/a model.tar.gz', 'x');
    const [obj] = events.flatMap((e) => createdObjects(e, false));
    expect(obj).toMatchObject({ bucket: 'test-bucket', key: 'uploads/a model.tar.gz', size: 1 });
    expect(obj.etag).toBe((await store.head('uploads/a model.tar.gz'))!.etag);
    expect(createdObjects({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'uploads/a+model%281%29.tar.gz', eTag: '"e"' } } }] }))
      .toEqual([{ bucket: 'b', key: 'uploads/a model(1).tar.gz', size: null, etag: 'e' }]);
    expect([isPipelineKey('models/x/original/upload.tar'), isPipelineKey('tmp/a'), isPipelineKey('uploads/m.tar')]).toEqual([true, true, false]);
  });
});
