/**
 * Issue 10: every hole found when the gateway was attacked, against a real gateway (embedded S3, libsql,
 * keys). Each refusal has OpenAI's error shape, leaves no row, object or scratch file behind, and the
 * gateway keeps answering (health and a completion) afterwards.
 */
import { request } from 'node:http';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { createApiKey, type Scope } from '../../src/access/keys.ts';
import { uploads as uploadsTable } from '../../src/db/schema.ts';
import { loadModel } from '../../src/model/load.ts';
import { saveHfFolder } from '../../src/model/save-hf.ts';
import type { LoadedModel } from '../../src/model/types.ts';
import { randomModel } from '../fixtures/random-model.ts';
import { STORIES } from './gateway-server.ts';
import { makeTar, storiesHfEntries, storiesTarGz, type Entry } from '../pipeline/archives.ts';
import { startTestGateway, TOKEN, type TestGateway } from '../pipeline/gateway.ts';

const ADMIN = 'operator-admin-key-for-hostile-tests-0123';
const LOOP = '{% for a in range(100000) %}{% for b in range(100000) %}{{ "" }}{% endfor %}{% endfor %}';
let gw: TestGateway;
let scratch: string;
let good: Buffer;
let hf: Entry[];
let stories: LoadedModel;
const logged: string[] = [];
const keys: Record<string, string> = {};
const originalTmp = process.env.TMPDIR;

async function key(name: string, owner: string, scopes: Scope[], extra: { rateLimit?: number; uploadQuota?: number } = {}) {
  keys[name] = (await createApiKey(gw.platform.db, { owner, name, scopes, ...extra })).key;
}

beforeAll(async () => {
  // upload scratch folders go under os.tmpdir(): a private one, so that leftovers can be counted
  scratch = await mkdtemp(join(tmpdir(), 'fg-hostile-'));
  await mkdir(join(scratch, 'tmp'));
  process.env.TMPDIR = join(scratch, 'tmp');
  gw = await startTestGateway(
    { FLATGATE_MAX_UPLOAD_BYTES: String(8 * 2 ** 20) },
    { auth: (platform) => ({ mode: 'keys', adminKey: ADMIN, db: platform.db }), log: (msg, err) => logged.push(`${msg} ${String(err ?? '')}`) },
  );
  stories = await loadModel(STORIES);
  gw.pool.add('stories260K', stories);
  gw.pool.add('alice-model', stories, { parent: null, method: 'original', owner: 'alice' });
  gw.pool.add('bob-model', stories, { parent: null, method: 'original', owner: 'bob' });
  const loopTokenizer = Object.create(stories.tokenizer) as LoadedModel['tokenizer'];
  loopTokenizer.tokenizerConfig = () => ({ chat_template: LOOP });
  gw.pool.add('loop-template', { ...stories, tokenizer: loopTokenizer });
  await key('alice', 'alice', ['inference', 'upload']);
  await key('alice-admin', 'alice', ['admin']);
  await key('bob', 'bob', ['inference', 'upload']);
  await key('limited', 'carol', ['inference'], { rateLimit: 1 });
  good = await storiesTarGz();
  await key('quota', 'dave', ['upload'], { uploadQuota: Math.floor(good.length * 2.5) });
  await key('presigner', 'erin', ['upload'], { uploadQuota: good.length + 10 });
  hf = await storiesHfEntries('m/');
});
afterAll(async () => {
  await gw?.close();
  process.env.TMPDIR = originalTmp;
  await rm(scratch, { recursive: true, force: true });
});

const auth = (k: string) => ({ authorization: `Bearer ${k}` });

function call(path: string, k: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') {
  return fetch(`${gw.url}${path}`, { method, headers: { ...auth(k), 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
}

function upload(name: string, bytes: Uint8Array, k = keys.alice) {
  return fetch(`${gw.url}/v1/uploads?name=${name}`, { method: 'POST', headers: { ...auth(k), 'content-type': 'application/gzip' }, body: bytes });
}

/** Rows, objects and scratch files that a refused request must not leave. */
async function state() {
  const db = gw.platform.db;
  return {
    models: (await db.query.models.findMany()).map((m) => m.name).sort(),
    jobs: (await db.query.jobs.findMany()).length,
    uploads: (await db.query.uploads.findMany()).filter((u) => u.status === 'open').length,
    objects: (await gw.platform.store.list('')).map((o) => o.key).sort(),
    scratch: (await readdir(join(scratch, 'tmp'))).filter((f) => f.startsWith('flatgate-')),
  };
}

/** Asserts OpenAI's error shape, exactly, and returns the error. */
async function refusal(res: Response, status: number, code?: string) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof body.error.message).toBe('string');
  expect(typeof body.error.type).toBe('string');
  if (code) expect(body.error.code).toBe(code);
  // no server paths in any message
  expect(body.error.message).not.toContain(scratch);
  expect(body.error.message).not.toMatch(/\/tmp\/|flatgate-upload-/);
  return body.error;
}

async function healthy() {
  const h = await fetch(`${gw.url}/health`);
  expect(h.status).toBe(200);
  const r = await call('/v1/completions', keys.alice, { model: 'stories260K', prompt: 'Once', max_tokens: 2, temperature: 0 });
  expect(r.status).toBe(200);
}

afterEach(async () => healthy());

const tarOf = (over: Record<string, string | Uint8Array>, extra: Entry[] = []) =>
  makeTar([...hf.map((e) => (e.name.slice(2) in over ? { ...e, data: over[e.name.slice(2)] } : e)), ...extra]);

describe('1. the embedded object store', () => {
  it('refuses anonymous list, read, write and delete; an anonymous PUT under uploads/ makes no model', async () => {
    const before = await state();
    const base = `${gw.platform.s3.endpoint}/${gw.platform.store.bucket}`;
    for (const [method, path] of [['GET', ''], ['GET', '?list-type=2'], ['PUT', '/uploads/evil.tar.gz'], ['DELETE', '/uploads/x'], ['GET', '/models/x']]) {
      const res = await fetch(`${base}${path}`, { method, body: method === 'PUT' ? good : undefined });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(await state()).toEqual(before);
  });
});

describe('2. chat templates', () => {
  it('a looping template gets a 400 in bounded time while /health keeps answering', async () => {
    const started = Date.now();
    const chat = call('/v1/chat/completions', keys.alice, { model: 'loop-template', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(500);
    const err = await refusal(await chat, 400, 'invalid_chat_template');
    expect(err.message).toMatch(/longer than \d+ ms/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('an upload whose template loops or cannot render is refused at upload', async () => {
    const before = await state();
    const config = JSON.parse(Buffer.from(hf.find((e) => e.name === 'm/tokenizer_config.json')!.data as Uint8Array).toString('utf8'));
    for (const template of [LOOP, '{% for m in messages %}', "{{ raise_exception('x') }}"]) {
      const res = await upload('bad-template', await tarOf({ 'tokenizer_config.json': JSON.stringify({ ...config, chat_template: template }) }));
      expect((await refusal(res, 400, 'invalid_model_file')).message).toMatch(/chat_template/);
      expect(await state()).toEqual(before);
    }
  });
});

describe('3. names', () => {
  it("nobody takes the demo's or another owner's name, even after it is deleted, and the refusal says nothing of who holds it", async () => {
    expect((await upload('alice-secret', good, keys.alice)).status).toBe(202);
    const before = await state();
    const ownRepeat = await refusal(await upload('alice-secret', good, keys.alice), 409, 'model_exists');
    const other = await refusal(await upload('alice-secret', good, keys.bob), 409, 'model_exists');
    expect(other).toEqual(ownRepeat);
    await refusal(await upload('stories260K', good, keys.bob), 409, 'model_exists');
    await refusal(await upload('bob-model', good, keys.alice), 409, 'model_exists');
    expect(await state()).toEqual(before);
    expect((await call('/v1/models/alice-secret', keys.alice, undefined, 'DELETE')).status).toBe(200);
    await refusal(await upload('alice-secret', good, keys.bob), 409, 'model_exists');
    const again = await upload('alice-secret', good, keys.alice);
    expect(again.status).toBe(202);
  });
});

describe('4. upload quotas', () => {
  it('parallel uploads cannot pass the quota together; failed uploads give their reservation back', async () => {
    const tally = async () => (await gw.platform.db.query.apiKeys.findMany()).find((k) => k.owner === 'dave')!.uploadedBytes;
    const bad = await refusal(await upload('quota-bad', Buffer.from('not an archive'.repeat(100)), keys.quota), 400);
    expect(bad.code).toBe('invalid_model_file');
    expect(await tally()).toBe(0);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => upload(`quota-${i}`, good, keys.quota)));
    const accepted = results.filter((r) => r.status === 202);
    expect(accepted.length).toBe(2);
    for (const r of results.filter((x) => x.status !== 202)) await refusal(r, 429, 'quota_exceeded');
    expect(await tally()).toBe(2 * good.length);
  });

  it('a presigned upload holds its reservation until it completes or expires', async () => {
    const start = (name: string) => call('/v1/uploads/multipart', keys.presigner, { name, size: good.length });
    const first = await start('pre-1');
    expect(first.status).toBe(201);
    await refusal(await start('pre-2'), 429, 'quota_exceeded');
    const { id } = (await first.json()) as { id: string };
    await gw.platform.db.update(uploadsTable).set({ expiresAt: 0 }).where(eq(uploadsTable.id, id));
    const again = await start('pre-3');
    expect(again.status).toBe(201);
    await gw.platform.db.update(uploadsTable).set({ status: 'aborted' }).where(eq(uploadsTable.status, 'open'));
  });
});

describe('5 and 8. hostile archive layouts and sizes', () => {
  it('over-long names, deep paths, a file then an entry under it, a bomb and padded JSON: 400 invalid_model_file', async () => {
    const before = await state();
    const padded = JSON.stringify({ ...JSON.parse(Buffer.from(hf.find((e) => e.name === 'm/config.json')!.data as Uint8Array).toString()), pad: 'x'.repeat(2 ** 21) });
    const cases: [string, Buffer][] = [
      ['long file name', await tarOf({}, [{ name: `m/${'a'.repeat(300)}`, data: 'x' }])],
      ['long folder name', await tarOf({}, [{ name: `m/${'b'.repeat(5000)}/f`, data: 'x' }])],
      ['deep path', await tarOf({}, [{ name: `m/${'d/'.repeat(3000)}f`, data: 'x' }])],
      ['file then entry under it', await tarOf({}, [{ name: 'm/x', data: '1' }, { name: 'm/x/y', data: '2' }])],
      ['bomb', gzipSync(await makeTar([...hf, { name: 'm/zeros', data: Buffer.alloc(80 * 2 ** 20) }], false))],
      ['padded config.json', await tarOf({ 'config.json': padded })],
    ];
    for (const [label, bytes] of cases) {
      const err = await refusal(await upload(`layout-${label.replace(/\W+/g, '-')}`, bytes), 400, 'invalid_model_file');
      expect(err.message, label).toBeTruthy();
      expect(await state(), label).toEqual(before);
    }
  });
});

describe('6. streamed requests', () => {
  it('are validated before the stream opens: 400 like non-streamed', async () => {
    const long = 'Once upon a time '.repeat(200);
    const bodies = [
      ['/v1/completions', { model: 'stories260K', prompt: 'Once', max_tokens: 100_000, stream: true }],
      ['/v1/completions', { model: 'stories260K', prompt: long, max_tokens: 1, stream: true }],
      ['/v1/chat/completions', { model: 'stories260K', messages: [{ role: 'user', content: 'hi' }], max_tokens: 100_000, stream: true }],
      ['/v1/chat/completions', { model: 'stories260K', messages: [{ role: 'user', content: long }], stream: true }],
    ] as const;
    for (const [path, body] of bodies) {
      const res = await call(path, keys.alice, body);
      expect(res.headers.get('content-type')).toMatch(/json/);
      await refusal(res, 400);
    }
  });
});

describe('7. /metrics', () => {
  it("an owner's admin key sees its own and the operator's series, never another owner's", async () => {
    for (const [k, model] of [['alice', 'alice-model'], ['bob', 'bob-model'], ['alice', 'stories260K']]) {
      expect((await call('/v1/completions', keys[k], { model, prompt: 'A', max_tokens: 1 })).status).toBe(200);
    }
    const mine = await (await call('/metrics', keys['alice-admin'])).text();
    expect(mine).toContain('model="alice-model"');
    expect(mine).toContain('model="stories260K"');
    expect(mine).not.toContain('bob-model');
    const all = await (await call('/metrics', ADMIN)).text();
    expect(all).toContain('model="bob-model"');
  });
});

describe('9. bucket events', () => {
  it('a re-sent event with another eTag spelling is a duplicate; keys with .. are refused', async () => {
    const key = 'uploads/evented.tar.gz';
    await gw.platform.store.put(key, good);
    await new Promise((r) => setTimeout(r, 300));
    const jobsBefore = (await gw.platform.db.query.jobs.findMany()).length;
    const event = (k: string, eTag: string) => ({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: gw.platform.store.bucket }, object: { key: k, eTag } } }] });
    const hook = (body: unknown) => fetch(`${gw.url}/v1/hooks/s3`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const eTag of ['"0123abcd"', 'ANOTHER-SPELLING', '']) {
      const out = (await (await hook(event(key, eTag))).json()) as { results: { action: string }[] };
      expect(out.results[0].action).toBe('duplicate');
    }
    expect((await gw.platform.db.query.jobs.findMany()).length).toBe(jobsBefore);
    const models = (await gw.platform.db.query.models.findMany()).length;
    for (const k of ['uploads/../models/x/original/upload.tar', 'uploads/./a.tar', 'uploads//b.tar']) {
      const out = (await (await hook(event(k, 'e'))).json()) as { results: { action: string }[] };
      expect(out.results[0].action, k).toBe('ignored');
    }
    expect((await gw.platform.db.query.models.findMany()).length).toBe(models);
  });
});

describe('10. models the worker could not run', () => {
  it('a head size the attention kernel does not support is refused at upload', async () => {
    const before = await state();
    const dir = join(scratch, 'odd-heads');
    const model = randomModel({ hiddenSize: 48, numHeads: 4, numKvHeads: 4, headDim: 12, intermediateSize: 64, numLayers: 2, vocabSize: stories.model.config.vocabSize, maxPositions: 256 });
    await saveHfFolder(dir, { ...stories, model });
    const entries = await Promise.all((await readdir(dir)).map(async (f) => ({ name: `odd/${f}`, data: await import('node:fs/promises').then((fs) => fs.readFile(join(dir, f))) })));
    const err = await refusal(await upload('odd-heads', await makeTar(entries)), 400, 'unsupported_model');
    expect(err.message).toMatch(/head size 12/);
    expect(await state()).toEqual(before);
  });

  it('a job that fails for good leaves no published objects, only the upload', async () => {
    const res = await upload('fails-later', good, keys.bob);
    const { model, job } = (await res.json()) as { model: { id: string }; job: { id: string } };
    // earlier tests queued jobs too: claim until this one comes up
    let claimed = await gw.platform.queue.claim('w-test');
    for (let i = 0; i < 50 && claimed && claimed.job.id !== job.id; i++) claimed = await gw.platform.queue.claim('w-test');
    expect(claimed?.job.id).toBe(job.id);
    await gw.platform.store.put(`models/${model.id}/original/hf/model.safetensors`, 'half published');
    await gw.platform.store.put(`models/${model.id}/flattengpt-20/hf/config.json`, '{}');
    await gw.platform.store.put(`tmp/job-${job.id}-1/x`, 'staged');
    const fail = await fetch(`${gw.url}/v1/worker/jobs/${job.id}/fail`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ lease: claimed!.lease, error: 'head size not supported', retryable: false }),
    });
    expect(((await fail.json()) as { status: string }).status).toBe('failed');
    const left = (await gw.platform.store.list('')).map((o) => o.key).filter((k) => k.includes(model.id) || k.includes(job.id));
    expect(left).toEqual([`models/${model.id}/original/upload.tar`]);
  });
});

describe('11. error hygiene', () => {
  it('a broken checkpoint is described without server paths', async () => {
    const err = await refusal(await upload('lying', await tarOf({ 'model.safetensors': Buffer.from('garbage') })), 400, 'invalid_model_file');
    expect(err.message).toMatch(/model\.safetensors/);
  });

  it('a client that disconnects mid-upload is not logged as a server error, and leaves nothing', async () => {
    const before = await state();
    logged.length = 0;
    await new Promise<void>((done) => {
      const req = request(`${gw.url}/v1/uploads?name=gone`, { method: 'POST', headers: { ...auth(keys.alice), 'content-type': 'application/gzip', 'content-length': String(good.length) } });
      req.on('error', () => done());
      req.write(good.subarray(0, Math.floor(good.length / 2)), () => setTimeout(() => req.destroy(), 200));
      req.on('close', () => done());
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect(logged).toEqual([]);
    expect(await state()).toEqual(before);
  });

  it('a rate limit answers 429 rate_limit_exceeded with Retry-After', async () => {
    expect((await call('/v1/models', keys.limited)).status).toBe(200);
    const res = await call('/v1/models', keys.limited);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await refusal(res, 429, 'rate_limit_exceeded');
  });
});
