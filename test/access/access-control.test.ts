/**
 * Issue 6's access control: every route refuses a missing, wrong, revoked or under-scoped key; one owner's
 * key never reads, deletes or routes another owner's model; per-key rate limits and upload quotas answer
 * 429 in OpenAI's shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, type Scope } from '../../src/access/keys.ts';
import { createApp } from '../../src/app.ts';
import { revokeApiKey } from '../../src/db/queries/api-keys.ts';
import { insertModel } from '../../src/db/queries/models.ts';
import { loadModel } from '../../src/model/load.ts';
import { scopeOf } from '../../src/routes/auth.ts';
import { ModelPool } from '../../src/serving/model-pool.ts';
import { STORIES } from '../api/gateway-server.ts';
import { startTestGateway, type TestGateway } from '../pipeline/gateway.ts';

const ADMIN = 'operator-admin-key-for-tests-0123456789';
let gw: TestGateway;
const keys: Record<string, string> = {};

async function key(name: string, owner: string, scopes: Scope[], extra: { rateLimit?: number; uploadQuota?: number } = {}) {
  const { key: k, row } = await createApiKey(gw.platform.db, { owner, name, scopes, ...extra });
  keys[name] = k;
  return row.id;
}

beforeAll(async () => {
  gw = await startTestGateway({}, { auth: (platform) => ({ mode: 'keys', adminKey: ADMIN, db: platform.db }) });
  const stories = await loadModel(STORIES);
  gw.pool.add('stories260K', stories);
  gw.pool.add('alice-model', stories, { parent: null, method: 'original', owner: 'alice' });
  gw.pool.add('alice-model:shortgpt-20', stories, { parent: 'alice-model', method: 'shortgpt', owner: 'alice' });
  gw.pool.add('bob-model', stories, { parent: null, method: 'original', owner: 'bob' });
  const now = Date.now();
  for (const [id, name, owner] of [['mdl_alice', 'alice-model', 'alice'], ['mdl_bob', 'bob-model', 'bob']]) {
    await insertModel(gw.platform.db, { id, name, owner, status: 'ready', sourceBucket: 'b', sourceKey: `k/${id}`, createdAt: now });
  }
  await key('alice', 'alice', ['inference', 'upload']);
  await key('alice-inference', 'alice', ['inference']);
  await key('alice-admin', 'alice', ['admin']);
  await key('bob', 'bob', ['inference', 'upload']);
  await key('limited', 'carol', ['inference'], { rateLimit: 2 });
  await key('quota', 'dave', ['upload'], { uploadQuota: 100 });
  const revokedId = await key('revoked', 'alice', ['inference', 'upload', 'admin']);
  await revokeApiKey(gw.platform.db, revokedId);
});
afterAll(() => gw?.close());

function call(method: string, path: string, k: string | null, body?: unknown) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (k) headers.authorization = `Bearer ${k}`;
  return fetch(`${gw.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** Every route of the API with the scope it needs. */
const ROUTES: [string, string, Scope, unknown?][] = [
  ['POST', '/v1/completions', 'inference', { model: 'stories260K', prompt: 'A', max_tokens: 1 }],
  ['POST', '/v1/chat/completions', 'inference', { model: 'stories260K', messages: [{ role: 'user', content: 'A' }], max_tokens: 1 }],
  ['GET', '/v1/models', 'inference'],
  ['GET', '/v1/models/stories260K', 'inference'],
  ['GET', '/v1/models/stories260K/comparison', 'inference'],
  ['GET', '/models/stories260K/comparison', 'inference'],
  ['GET', '/v1/models/stories260K/route', 'inference'],
  ['PUT', '/v1/models/stories260K/route', 'admin', { arms: [{ variant: 'stories260K', weight: 1 }] }],
  ['DELETE', '/v1/models/stories260K/route', 'admin'],
  ['POST', '/v1/models/stories260K/benchmark', 'admin', { requests: 1, max_tokens: 1 }],
  ['DELETE', '/v1/models/no-such-model', 'upload'],
  ['PUT', '/v1/models/no-such-model/criteria', 'upload', { max_ppl_ratio: 1.2 }],
  ['POST', '/v1/uploads?name=x', 'upload', 'not an archive'],
  ['POST', '/v1/uploads/multipart', 'upload', { name: 'y', size: 10 }],
  ['POST', '/v1/uploads/multipart/upl_none/complete', 'upload', { parts: [{ part_number: 1, etag: 'e' }] }],
  ['GET', '/v1/jobs/job_none', 'upload'],
  ['GET', '/metrics', 'admin'],
  ['GET', '/tokenizer_info?model=stories260K', 'inference'],
  ['POST', '/tokenize', 'inference', { model: 'stories260K', prompt: 'A' }],
  ['POST', '/detokenize', 'inference', { model: 'stories260K', tokens: [1] }],
];

describe('every route refuses a bad key', () => {
  it('the scope table covers every route the app registers', () => {
    const app = createApp({ pool: new ModelPool(), maxRequestBytes: 1024, platform: gw.platform });
    for (const r of app.routes) {
      // /openapi.json and /docs describe the API (no data, as vLLM's): public like /health (issue 11)
      if (r.method === 'ALL' || ['/health', '/openapi.json', '/docs'].includes(r.path) || r.path === '/*' || /^\/v1\/(worker|hooks)\//.test(r.path)) continue;
      const example = r.path.replace(/:[a-z]+/g, 'x');
      expect(scopeOf(r.method, example), `${r.method} ${r.path}`).not.toBeNull();
    }
  });

  const other: Record<Scope, string> = { inference: 'quota', upload: 'alice-inference', admin: 'alice' };
  for (const [method, path, scope, body] of ROUTES) {
    it(`${method} ${path} (${scope})`, async () => {
      // the comparison page opens without a key (it is a shell that asks for one): see below
      const keyless = path.startsWith('/models/');
      for (const [k, status] of [
        ...(keyless ? [] : [[null, 401]]),
        ['fg-not-a-real-key', 401],
        [keys.revoked, 401],
        [keys[other[scope]], 403],
      ] as [string | null, number][]) {
        const res = await call(method, path, k, body);
        expect(res.status, `${k ?? 'no key'}`).toBe(status);
        const { error } = (await res.json()) as { error: Record<string, unknown> };
        expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
        expect(error.type).toBe(status === 401 ? 'authentication_error' : 'permission_error');
      }
      const ok = await call(method, path, ADMIN, body);
      expect([401, 403]).not.toContain(ok.status);
    });
  }

  it('HEAD needs the same key as GET, and unlisted API paths need a key too', async () => {
    expect((await fetch(`${gw.url}/v1/models/bob-model`, { method: 'HEAD' })).status).toBe(401);
    expect((await fetch(`${gw.url}/v1/models/bob-model/comparison`, { method: 'HEAD' })).status).toBe(401);
    expect((await fetch(`${gw.url}/v1/no-such-route`)).status).toBe(401);
    expect((await call('GET', '/v1/no-such-route', keys.alice)).status).toBe(404);
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });

  it('the comparison page without a key is a shell that reveals nothing: the same for any model name, no data', async () => {
    const shell = async (id: string) => {
      const res = await fetch(`${gw.url}/models/${id}/comparison`, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      return (await res.text()).replaceAll(id, 'ID');
    };
    const [bob, none] = [await shell('bob-model'), await shell('no-such-model')];
    expect(bob).toBe(none);
    expect(bob).not.toContain('id="comparison-data"');
    expect(bob).toContain('id="sign-in"');
    // a key that is sent must still be valid; the JSON behind the page needs one
    expect((await call('GET', '/models/bob-model/comparison', 'fg-not-a-real-key')).status).toBe(401);
    expect((await fetch(`${gw.url}/models/bob-model/comparison`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${gw.url}/v1/models/bob-model/comparison`)).status).toBe(401);
    expect((await call('GET', '/models/bob-model/comparison', keys.alice)).status).toBe(404);
  });

  it('worker endpoints take the worker token, not an API key', async () => {
    expect((await call('POST', '/v1/worker/claim', ADMIN, { worker_id: 'w' })).status).toBe(401);
  });
});

describe("one owner's key never touches another owner's model", () => {
  it('lists only its own models and the operator’s', async () => {
    const list = (await (await call('GET', '/v1/models', keys.alice)).json()) as { data: { id: string }[] };
    expect(list.data.map((m) => m.id).sort()).toEqual(['alice-model', 'alice-model:shortgpt-20', 'stories260K']);
    const all = (await (await call('GET', '/v1/models', ADMIN)).json()) as { data: { id: string }[] };
    expect(all.data.map((m) => m.id)).toContain('bob-model');
  });

  it('cannot read it: completions, details, comparison answer 404 as for an unknown model', async () => {
    const completion = await call('POST', '/v1/completions', keys.alice, { model: 'bob-model', prompt: 'A', max_tokens: 1 });
    expect(completion.status).toBe(404);
    expect(((await completion.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
    expect((await call('GET', '/v1/models/bob-model', keys.alice)).status).toBe(404);
    expect((await call('GET', '/v1/models/bob-model/comparison', keys.alice)).status).toBe(404);
    expect((await call('POST', '/v1/completions', keys.bob, { model: 'bob-model', prompt: 'A', max_tokens: 1 })).status).toBe(200);
    expect((await call('POST', '/v1/completions', keys.alice, { model: 'alice-model:shortgpt-20', prompt: 'A', max_tokens: 1 })).status).toBe(200);
  });

  it('cannot route it', async () => {
    const arms = { arms: [{ variant: 'bob-model', weight: 1 }] };
    expect((await call('PUT', '/v1/models/bob-model/route', keys['alice-admin'], arms)).status).toBe(404);
    expect((await call('DELETE', '/v1/models/bob-model/route', keys['alice-admin'])).status).toBe(404);
    const own = { arms: [{ variant: 'alice-model', weight: 1 }, { variant: 'alice-model:shortgpt-20', weight: 1 }] };
    expect((await call('PUT', '/v1/models/alice-model/route', keys['alice-admin'], own)).status).toBe(200);
    // nor point its own route at someone else's model
    const sneaky = { arms: [{ variant: 'alice-model', weight: 1 }, { variant: 'bob-model', weight: 1 }] };
    expect((await call('PUT', '/v1/models/alice-model/route', keys['alice-admin'], sneaky)).status).toBe(400);
  });

  it('cannot delete it; its owner can', async () => {
    expect((await call('DELETE', '/v1/models/bob-model', keys.alice)).status).toBe(404);
    expect(gw.pool.has('bob-model')).toBe(true);
    const del = await call('DELETE', '/v1/models/bob-model', keys.bob);
    expect(del.status).toBe(200);
    expect(gw.pool.has('bob-model')).toBe(false);
    expect((await call('GET', '/v1/models/bob-model', ADMIN)).status).toBe(404);
  });
});

describe('rate limits and quotas', () => {
  it('a key over its rate limit gets 429 in OpenAI shape', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call('GET', '/v1/models', keys.limited)).status);
    expect(statuses).toEqual([200, 200, 429]);
    const res = await call('GET', '/v1/models', keys.limited);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');
    expect((await call('GET', '/v1/models', keys.alice)).status).toBe(200);
  });

  it('only the operator may point a job at calibration or evaluation data outside the upload', async () => {
    const res = await fetch(`${gw.url}/v1/uploads?name=sneaky&calibration_file=/etc/passwd`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.alice}`, 'content-type': 'application/gzip' },
      body: Buffer.alloc(10, 1),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('calibration_file');
  });

  it('an upload over the key quota gets 429 and stores nothing', async () => {
    const before = await gw.platform.store.list('');
    const res = await fetch(`${gw.url}/v1/uploads?name=big`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.quota}`, 'content-type': 'application/gzip' },
      body: Buffer.alloc(1000, 1),
    });
    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('quota_exceeded');
    expect(await gw.platform.store.list('')).toEqual(before);
    const presigned = await call('POST', '/v1/uploads/multipart', keys.quota, { name: 'big2', size: 1000 });
    expect(presigned.status).toBe(429);
  });
});
