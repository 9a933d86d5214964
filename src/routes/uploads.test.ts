/**
 * Upload routes against the real embedded S3 server and libsql: good uploads (raw body, multipart field,
 * presigned multipart) are stored and registered; each bad upload of the acceptance list is rejected
 * with a clear error and leaves no object and no row; good uploads around them are unaffected.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { badArchives, makeTar, storiesHfEntries, storiesTarGz } from '../../test/pipeline/archives.ts';
import { startTestGateway, type TestGateway } from '../../test/pipeline/gateway.ts';

const LIMIT = 1_500_000;
let gw: TestGateway;
let good: Buffer;
let hfGood: Buffer;

beforeAll(async () => {
  gw = await startTestGateway({ FLATGATE_MAX_UPLOAD_BYTES: String(LIMIT) });
  good = await storiesTarGz();
  hfGood = await makeTar(await storiesHfEntries('tiny-hf/'));
});
afterAll(async () => gw?.close());

async function upload(name: string, body: Uint8Array | ReadableStream<Uint8Array>, query = '') {
  const res = await fetch(`${gw.url}/v1/uploads?name=${name}${query}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/gzip' },
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: res.status, body: (await res.json()) as { model?: { id: string; name: string }; job?: { id: string; status: string }; sha256?: string; error?: { message: string; code: string } } };
}

async function state() {
  const keys = (await gw.platform.store.list('')).map((o) => o.key).sort();
  const models = await gw.platform.db.query.models.findMany();
  const jobs = await gw.platform.db.query.jobs.findMany();
  return { keys, models: models.map((m) => m.name).sort(), jobs: jobs.length };
}

describe('POST /v1/uploads', () => {
  const accepted: string[] = [];

  it('accepts a good tar.gz, stores it under models/<id>/original with its sha256, and queues a job', async () => {
    const r = await upload('good-before', good);
    expect(r.status).toBe(202);
    expect(r.body.job?.status).toBe('queued');
    const { createHash } = await import('node:crypto');
    expect(r.body.sha256).toBe(createHash('sha256').update(good).digest('hex'));
    const stored = Buffer.from(await gw.platform.store.getBytes(`models/${r.body.model!.id}/original/upload.tar`));
    expect(stored.equals(good)).toBe(true);
    accepted.push('good-before');
    expect(await state()).toEqual({ keys: [`models/${r.body.model!.id}/original/upload.tar`], models: ['good-before'], jobs: 1 });
  });

  it('rejects every bad archive with a clear 4xx and leaves nothing behind', async () => {
    const before = await state();
    const expected: Record<string, RegExp> = {
      'not an archive': /not a valid tar|archive|gzip/i,
      'traversal path': /'\.\.'/,
      'absolute path': /absolute path/,
      symlink: /symlink|only files and folders/,
      'lying safetensors header': /safetensors|offset|beyond|size/i,
      'absurd config': /hidden_size|intermediate_size|config/i,
    };
    for (const [label, bytes] of Object.entries(await badArchives())) {
      const r = await upload(`bad-${label.replace(/\W+/g, '-')}`, bytes);
      expect(r.status, label).toBe(400);
      expect(r.body.error?.message, label).toMatch(expected[label]);
      expect(await state(), label).toEqual(before);
    }
  });

  it('rejects an archive over the size limit, declared or streamed, with 413', async () => {
    const before = await state();
    const big = await makeTar([{ name: 'm/config.json', data: '{}' }, { name: 'm/blob.bin', data: randomBytes(LIMIT + 100_000) }]);
    const declared = await upload('too-big', big);
    expect(declared.status).toBe(413);
    expect(declared.body.error?.code).toBe('upload_too_large');
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < big.length; i += 65536) c.enqueue(big.subarray(i, i + 65536));
        c.close();
      },
    });
    const streamed = await upload('too-big-streamed', stream);
    expect(streamed.status).toBe(413);
    expect(await state()).toEqual(before);
  });

  it('accepts good uploads after the bad ones: an HF folder archive, and a multipart form field', async () => {
    const r = await upload('good-after', hfGood, '&methods=flattengpt&ratio=0.4&calib_samples=8');
    expect(r.status).toBe(202);
    accepted.push('good-after');
    const job = await gw.platform.queue.get(r.body.job!.id);
    expect(job?.params).toMatchObject({ methods: ['flattengpt'], ratio: 0.4, calib_samples: 8 });

    const form = new FormData();
    form.append('note', 'a field before the file');
    form.append('file', new Blob([good]), 'stories.tar.gz');
    const res = await fetch(`${gw.url}/v1/uploads?name=good-form`, { method: 'POST', body: form });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { model: { id: string } };
    expect(Buffer.from(await gw.platform.store.getBytes(`models/${body.model.id}/original/upload.tar`)).equals(good)).toBe(true);
    accepted.push('good-form');
    const s = await state();
    expect(s.models).toEqual([...accepted].sort());
    expect(s.jobs).toBe(3);
    expect(s.keys.every((k) => /^models\/mdl_\w+\/original\/upload\.tar$/.test(k))).toBe(true);
  });

  it('rejects a taken name (409), a bad name and bad parameters (400) before reading the body', async () => {
    expect((await upload('good-before', good)).status).toBe(409);
    expect((await upload('no:colons', good)).status).toBe(400);
    const r = await upload('fine-name', good, '&ratio=3');
    expect(r.status).toBe(400);
    expect(r.body.error?.message).toMatch(/ratio/);
    // an unknown task is the client's mistake, said at upload, not a job that fails later
    const t = await upload('fine-name', good, '&tasks=piqa,mmlu');
    expect(t.status).toBe(400);
    expect(t.body.error?.message).toMatch(/tasks/);
  });
});

describe('presigned multipart upload', () => {
  async function presigned(name: string, bytes: Buffer) {
    const start = await fetch(`${gw.url}/v1/uploads/multipart`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, size: bytes.length }),
    });
    expect(start.status).toBe(201);
    const up = (await start.json()) as { id: string; part_size: number; parts: { part_number: number; url: string }[] };
    const parts = [];
    for (const p of up.parts) {
      const chunk = bytes.subarray((p.part_number - 1) * up.part_size, p.part_number * up.part_size);
      const put = await fetch(p.url, { method: 'PUT', body: chunk });
      expect(put.status).toBe(200);
      parts.push({ part_number: p.part_number, etag: put.headers.get('etag')! });
    }
    return fetch(`${gw.url}/v1/uploads/multipart/${up.id}/complete`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parts }) });
  }

  it('the client uploads straight to the bucket, then completion validates and registers the model', async () => {
    const res = await presigned('presigned-good', good);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { model: { id: string }; job: { status: string } };
    expect(body.job.status).toBe('queued');
    expect(Buffer.from(await gw.platform.store.getBytes(`models/${body.model.id}/original/upload.tar`)).equals(good)).toBe(true);
    expect(await gw.platform.store.list('tmp/')).toEqual([]);
  });

  it('a bad archive uploaded this way is rejected and deleted', async () => {
    const before = await state();
    const res = await presigned('presigned-bad', (await badArchives())['traversal path']);
    expect(res.status).toBe(400);
    expect(await state()).toEqual(before);
  });
});
