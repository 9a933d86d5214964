/**
 * The embedded object store refuses whoever does not hold its key pair: anonymous requests, requests
 * signed with another secret, tampered or expired presigned URLs, all get 403 and change nothing; the
 * real AWS SDK client and presigner (an independent SigV4 implementation) get through. The key pair is
 * made once, kept in the data directory with mode 0600, and a taken port is replaced by a free one.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDENTIALS_FILE, embeddedCredentials } from './embedded-credentials.ts';
import { startEmbeddedS3, type EmbeddedS3 } from './embedded-s3.ts';
import { ObjectStore, type S3Settings } from './object-store.ts';

let dir: string;
let s3: EmbeddedS3;
let settings: S3Settings;
let store: ObjectStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fg-s3auth-'));
  const credentials = await embeddedCredentials(dir, null);
  s3 = await startEmbeddedS3({ directory: join(dir, 's3'), bucket: 'b', port: 0, credentials });
  settings = { endpoint: s3.endpoint, region: 'us-east-1', bucket: 'b', ...credentials, forcePathStyle: true };
  store = new ObjectStore(settings);
  await store.put('uploads/secret.tar', 'owner data');
});
afterAll(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('embedded S3 authentication', () => {
  it('refuses anonymous list, read, write and delete with 403 and changes nothing', async () => {
    const url = `${s3.endpoint}/b`;
    const answers = [
      await fetch(`${url}?list-type=2`),
      await fetch(`${url}/uploads/secret.tar`),
      await fetch(`${url}/uploads/evil.tar`, { method: 'PUT', body: 'x' }),
      await fetch(`${url}/uploads/secret.tar`, { method: 'DELETE' }),
      await fetch(`${s3.endpoint}/`),
    ];
    for (const r of answers) {
      expect(r.status).toBe(403);
      expect(await r.text()).toMatch(/<Code>AccessDenied<\/Code>/);
    }
    expect((await store.list('')).map((o) => o.key)).toEqual(['uploads/secret.tar']);
    expect(Buffer.from(await store.getBytes('uploads/secret.tar')).toString()).toBe('owner data');
  });

  it('refuses a client signing with the right key id but another secret, and an unknown key id', async () => {
    for (const bad of [{ secretAccessKey: 'not-the-secret-at-all' }, { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }]) {
      const other = new ObjectStore({ ...settings, ...bad });
      await expect(other.getBytes('uploads/secret.tar')).rejects.toThrow();
      await expect(other.put('uploads/evil.tar', 'x')).rejects.toThrow();
    }
    expect((await store.list('')).map((o) => o.key)).toEqual(['uploads/secret.tar']);
  });

  it('accepts presigned URLs as signed and refuses them tampered or expired', async () => {
    const get = await getSignedUrl(store.client, new GetObjectCommand({ Bucket: 'b', Key: 'uploads/secret.tar' }), { expiresIn: 60 });
    expect(await (await fetch(get)).text()).toBe('owner data');
    const put = await getSignedUrl(store.client, new PutObjectCommand({ Bucket: 'b', Key: 'uploads/mine.tar' }), { expiresIn: 60 });
    expect((await fetch(put, { method: 'PUT', body: 'mine' })).status).toBe(200);

    const tampered = [
      put.replace('uploads/mine.tar', 'uploads/other.tar'),
      put.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=604800'),
      put.replace(/X-Amz-Signature=[0-9a-f]{4}/, 'X-Amz-Signature=0000'),
      put.replace(/&X-Amz-Signature=[0-9a-f]+/, ''),
      `${put}&extra=1`,
    ];
    for (const url of tampered) expect((await fetch(url, { method: 'PUT', body: 'evil' })).status, url).toBe(403);
    expect((await fetch(get, { method: 'DELETE' })).status).toBe(403);

    const expired = await getSignedUrl(store.client, new GetObjectCommand({ Bucket: 'b', Key: 'uploads/secret.tar' }), {
      expiresIn: 1,
      signingDate: new Date(Date.now() - 3600_000),
    });
    expect((await fetch(expired)).status).toBe(403);
    expect((await store.list('')).map((o) => o.key).sort()).toEqual(['uploads/mine.tar', 'uploads/secret.tar']);
  });

  it('makes the key pair once, keeps it with mode 0600, and prefers a configured pair', async () => {
    const file = join(dir, CREDENTIALS_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const again = await embeddedCredentials(dir, null);
    expect(again).toEqual({ accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(again);
    const configured = { accessKeyId: 'CONFIGURED', secretAccessKey: 'configured-secret-123' };
    expect(await embeddedCredentials(dir, configured)).toEqual(configured);
  });

  it('takes a free port when the configured one is taken, and says so', async () => {
    const blocker = createServer();
    await new Promise<void>((ok) => blocker.listen(0, '127.0.0.1', ok));
    const taken = (blocker.address() as { port: number }).port;
    const logs: string[] = [];
    const second = await startEmbeddedS3({
      directory: join(dir, 's3-second'),
      bucket: 'b',
      port: taken,
      credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
      log: (m) => logs.push(m),
    });
    try {
      expect(second.endpoint).not.toBe(`http://127.0.0.1:${taken}`);
      expect(logs.join('\n')).toMatch(new RegExp(`port ${taken} is taken; using \\d+`));
      const other = new ObjectStore({ ...settings, endpoint: second.endpoint });
      await other.put('k', 'v');
      expect(Buffer.from(await other.getBytes('k')).toString()).toBe('v');
    } finally {
      await second.close();
      blocker.close();
    }
  });
});
