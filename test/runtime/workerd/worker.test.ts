/**
 * The Worker under `wrangler dev` (pinned wrangler, local D1 and R2, offline): D1 migrated with
 * `wrangler d1 migrations apply --local`, an object seeded under uploads/ with `wrangler r2 object put
 * --local`, then, through HTTP only: keys refused and accepted, an upload streamed into R2 (its SHA-256
 * checked against one computed here), an R2 event notification going through the real Queue consumer
 * into intake, idempotent repeats through /v1/hooks/r2 and /v1/hooks/s3, job claim and completion
 * through /v1/worker/* with the worker token, the models API from D1, and completions forwarded to a
 * serving stub (SERVING_URL) with the caller's key removed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenLocal, migrateLocalD1, runWrangler, startGatewayWorker, wranglerSandbox, type WranglerDev, type WranglerSandbox } from './wrangler-harness.ts';

const WORKER_TOKEN = `wt-${randomBytes(12).toString('hex')}`;
const ADMIN_KEY = `fg-admin-${randomBytes(12).toString('hex')}`;
const SEEDED_KEY = 'uploads/seeded-llama.tar';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

describe('the Worker under wrangler dev', () => {
  let sb: WranglerSandbox;
  let dev: WranglerDev;
  let serving: Server;
  const seen: Seen[] = [];
  let restarted = false;
  const seeded = randomBytes(4096);
  const admin = { authorization: `Bearer ${ADMIN_KEY}` };
  const worker = { authorization: `Bearer ${WORKER_TOKEN}`, 'content-type': 'application/json' };

  const call = (path: string, init: RequestInit = {}) => fetch(`${dev.url}${path}`, init);
  const json = async (path: string, init: RequestInit = {}) => {
    const res = await call(path, init);
    return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Record<string, any>) };
  };
  /** Polls until `check` returns a value (the queue delivers in batches). */
  const until = async <T>(check: () => Promise<T | null>, ms = 20_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await check();
      if (v !== null) return v;
      if (Date.now() > end) throw new Error(`timed out; wrangler said:\n${dev.output().slice(-3000)}`);
      await new Promise((d) => setTimeout(d, 200));
    }
  };

  beforeAll(async () => {
    serving = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        // a restarted container knows no model until it is told what to serve
        if (req.url === '/v1/worker/serve') restarted = false;
        else if (restarted) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: 'The model does not exist', type: 'not_found_error', param: 'model', code: 'model_not_found' } }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', 'x-flatgate-variant': 'seeded-llama' });
        res.end(JSON.stringify({ id: 'cmpl-stub', object: 'text_completion', choices: [{ index: 0, text: ' from the container', finish_reason: 'length' }] }));
      });
    });
    const servingUrl = await listenLocal(serving);

    sb = await wranglerSandbox();
    const { state, ...migrated } = await migrateLocalD1(sb);
    expect(migrated.code, migrated.out).toBe(0);
    expect(migrated.out).toContain('0000_init.sql');
    await writeFile(join(sb.dir, 'seed.tar'), seeded);
    const put = await runWrangler(sb, ['r2', 'object', 'put', `flatgate/${SEEDED_KEY}`, '--local', '--persist-to', state, '--file', join(sb.dir, 'seed.tar')]);
    expect(put.code, put.out).toBe(0);
    dev = await startGatewayWorker(sb, { state, servingUrl, workerToken: WORKER_TOKEN, adminKey: ADMIN_KEY });
  });

  afterAll(async () => {
    await dev?.stop();
    await new Promise((d) => (serving ? serving.close(() => d(null)) : d(null)));
    await sb?.cleanup();
  });

  it('refuses requests without a key or with a wrong one, and worker routes without the worker token', async () => {
    expect((await json('/v1/models')).status).toBe(401);
    expect((await json('/v1/models', { headers: { authorization: 'Bearer fg-not-a-key' } })).status).toBe(401);
    expect((await json('/v1/worker/claim', { method: 'POST', headers: { ...worker, authorization: `Bearer ${ADMIN_KEY}` }, body: '{"worker_id":"w"}' })).status).toBe(401);
    expect((await json('/v1/hooks/r2', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
  });

  it('streams an upload into R2 and queues its job; validation is left to the job', async () => {
    const archive = randomBytes(70_000);
    const res = await json('/v1/uploads?name=direct&ratio=0.5', { method: 'POST', headers: { ...admin, 'content-type': 'application/x-tar' }, body: archive });
    expect(res.status).toBe(202);
    expect(res.body!.sha256).toBe(createHash('sha256').update(archive).digest('hex'));
    expect(res.body!.bytes).toBe(archive.length);
    expect(res.body!.job.status).toBe('queued');
    const job = await json(`/v1/jobs/${res.body!.job.id}`, { headers: admin });
    expect(job.body).toMatchObject({ id: res.body!.job.id, model_id: res.body!.model.id, status: 'queued' });
    const again = await json('/v1/uploads?name=direct', { method: 'POST', headers: { ...admin, 'content-type': 'application/x-tar' }, body: archive });
    expect(again.status).toBe(409);
    const multipart = await json('/v1/uploads/multipart', { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: '{"name":"big","size":1000}' });
    expect(multipart.status).toBe(501);
  });

  it('hands jobs to a GPU worker: claim with the worker token, complete, and the variants appear in the models API', async () => {
    const claim = await json('/v1/worker/claim', { method: 'POST', headers: worker, body: JSON.stringify({ worker_id: 'gpu-1' }) });
    expect(claim.status).toBe(200);
    const { job, lease } = claim.body!;
    expect(job.source).toEqual({ bucket: 'flatgate', key: `models/${job.model_id}/original/upload.tar` });
    expect(job.params.ratio).toBe(0.5);
    expect((await json('/v1/worker/claim', { method: 'POST', headers: worker, body: JSON.stringify({ worker_id: 'gpu-2' }) })).status).toBe(204);
    const evaluation = { ppl: 4.5, tasks: {}, agreement: {} };
    const variants = [
      { name: 'original', method: 'original', layers: 4, params: 1000, bytes: 4000, evaluation, report: null },
      { name: 'flat-50', method: 'flattengpt', layers: 2, params: 600, bytes: 2400, evaluation, report: { seconds: 1 } },
    ];
    const done = await json(`/v1/worker/jobs/${job.id}/complete`, { method: 'POST', headers: worker, body: JSON.stringify({ lease, variants }) });
    expect(done.body).toEqual({ ok: true, served: ['direct', 'direct:flat-50'] });
    const list = await json('/v1/models', { headers: admin });
    expect(list.body!.object).toBe('list');
    expect(list.body!.data.map((m: { id: string }) => m.id).sort()).toEqual(['direct', 'direct:flat-50']);
    expect(list.body!.data.find((m: { id: string }) => m.id === 'direct:flat-50').parent).toBe('direct');
    const details = await json('/v1/models/direct', { headers: admin });
    expect(details.body).toMatchObject({ name: 'direct', status: 'ready', job: { status: 'done' } });
    expect(details.body!.variants.map((v: { id: string }) => v.id)).toEqual(['direct', 'direct:flat-50']);
    expect((await json('/v1/models/nope', { headers: admin })).status).toBe(404);
  });

  it('turns an R2 event notification into a job through the Queue consumer, once per object version', async () => {
    const event = { account: 'local', bucket: 'flatgate', action: 'PutObject', object: { key: SEEDED_KEY, size: seeded.length }, eventTime: new Date().toISOString() };
    const queued = await json('/v1/hooks/r2', { method: 'POST', headers: worker, body: JSON.stringify(event) });
    expect(queued).toEqual({ status: 202, body: { queued: 1 } });
    const model = await until(async () => {
      const r = await json('/v1/models/seeded-llama', { headers: admin });
      return r.status === 200 ? r.body! : null;
    });
    // the details answer with the id they were asked for (issue 11); the internal id is model_id
    expect(model).toMatchObject({ id: 'seeded-llama', model_id: expect.stringMatching(/^mdl_/), name: 'seeded-llama', bytes: seeded.length, job: { status: 'queued' } });
    // wrangler logs the queue batch once the consumer returns, which can be after the model row appears
    await until(async () => (/QUEUE flatgate-upload-events/.test(dev.output()) ? true : null));
    // a repeated notification, the same object through the S3-format hook, and a pipeline key start nothing
    const repeat = await json('/v1/hooks/r2', { method: 'POST', headers: worker, body: JSON.stringify({ events: [event, { ...event, object: { key: 'models/x/y.tar' } }] }) });
    expect(repeat.status).toBe(202);
    const s3 = await json('/v1/hooks/s3', {
      method: 'POST',
      headers: worker,
      body: JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'flatgate' }, object: { key: SEEDED_KEY } } }] }),
    });
    expect(s3.body!.results).toEqual([{ key: SEEDED_KEY, action: 'duplicate', job: { id: model.job.id, status: 'queued', model_id: model.model_id } }]);
    await until(async () => ((dev.output().match(/QUEUE flatgate-upload-events/g) ?? []).length >= 2 ? true : null));
    const claim = await json('/v1/worker/claim', { method: 'POST', headers: worker, body: JSON.stringify({ worker_id: 'gpu-1' }) });
    expect(claim.body!.job).toMatchObject({ id: model.job.id, source: { bucket: 'flatgate', key: SEEDED_KEY } });
    expect((await json('/v1/worker/claim', { method: 'POST', headers: worker, body: JSON.stringify({ worker_id: 'gpu-1' }) })).status).toBe(204);
  });

  it('forwards completions to serving, without the caller key', async () => {
    const body = JSON.stringify({ model: 'direct:flat-50', prompt: 'Once upon a time', max_tokens: 4 });
    const res = await call('/v1/completions', { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-flatgate-variant')).toBe('seeded-llama');
    expect(((await res.json()) as { choices: { text: string }[] }).choices[0].text).toBe(' from the container');
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ method: 'POST', url: '/v1/completions', body });
    expect(last.headers.authorization).toBeUndefined();
    // before the first request of a family, the serving node is told what to serve (with the worker token)
    const told = seen.filter((r) => r.url === '/v1/worker/serve');
    expect(told).toHaveLength(1);
    expect(told[0].headers.authorization).toBe(`Bearer ${WORKER_TOKEN}`);
    const announced = JSON.parse(told[0].body) as { variants: { id: string; model_id: string; variant: string; parent: string | null }[] };
    expect(announced.variants.map((v) => [v.id, v.variant, v.parent])).toEqual([['direct', 'original', null], ['direct:flat-50', 'flat-50', 'direct']]);
    await call('/v1/completions', { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body });
    expect(seen.filter((r) => r.url === '/v1/worker/serve')).toHaveLength(1);
    expect((await json('/v1/chat/completions', { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: '{"messages":[]}' })).status).toBe(400);
  });

  it('tells a container that restarted (it answers model_not_found) what to serve, and forwards the request again', async () => {
    const headers = { ...admin, 'content-type': 'application/json' };
    const body = JSON.stringify({ model: 'direct:flat-50', prompt: 'Once', max_tokens: 2 });
    const told = () => seen.filter((r) => r.url === '/v1/worker/serve').length;
    await new Promise((d) => setTimeout(d, 2_100)); // past the gap between forced announcements
    restarted = true;
    const before = told();
    const res = await call('/v1/completions', { method: 'POST', headers, body });
    expect(res.status).toBe(200);
    expect(told()).toBe(before + 1);
    expect(seen.slice(-3).map((r) => r.url)).toEqual(['/v1/completions', '/v1/worker/serve', '/v1/completions']);
    // forced announcements are spaced: a second miss right away is answered as serving answered it
    restarted = true;
    const again = await json('/v1/completions', { method: 'POST', headers, body });
    expect(again.status).toBe(404);
    expect(again.body!.error.code).toBe('model_not_found');
    expect(told()).toBe(before + 1);
    restarted = false;
  });

  it("forwards vLLM's tokenizer endpoints to serving with their model, without the caller key", async () => {
    const body = JSON.stringify({ model: 'direct', prompt: 'Once upon a time', add_special_tokens: false });
    const res = await call('/tokenize', { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/tokenize', body });
    expect(seen.at(-1)!.headers.authorization).toBeUndefined();
    expect((await call('/tokenizer_info?model=direct', { headers: admin })).status).toBe(200);
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/tokenizer_info?model=direct' });
    expect((await json('/tokenizer_info', { headers: admin })).status).toBe(400);
    expect((await json('/detokenize', { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: '{"model":"nope","tokens":[1]}' })).status).toBe(404);
    expect((await call('/tokenize', { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(401);
  });

  it('keeps A/B routes in D1 and tells serving the route with the variants when it changes', async () => {
    const arms = [
      { variant: 'direct', weight: 1 },
      { variant: 'direct:flat-50', weight: 1 },
    ];
    const headers = { ...admin, 'content-type': 'application/json' };
    expect((await json('/v1/models/direct/route', { method: 'PUT', headers, body: JSON.stringify({ arms: [{ variant: 'seeded-llama', weight: 1 }] }) })).status).toBe(400);
    const put = await json('/v1/models/direct/route', { method: 'PUT', headers, body: JSON.stringify({ arms, shadow_rate: 0.1 }) });
    expect(put).toEqual({ status: 200, body: { object: 'route', model: 'direct', arms, shadow_rate: 0.1 } });
    expect((await json('/v1/models/direct/route', { headers: admin })).body).toEqual({ object: 'route', model: 'direct', arms, shadow_rate: 0.1 });
    const before = seen.filter((r) => r.url === '/v1/worker/serve').length;
    const body = JSON.stringify({ model: 'direct:flat-50', prompt: 'Once', max_tokens: 2 });
    await call('/v1/completions', { method: 'POST', headers, body });
    const told = seen.filter((r) => r.url === '/v1/worker/serve');
    expect(told).toHaveLength(before + 1);
    expect(JSON.parse(told.at(-1)!.body).route).toEqual({ model: 'direct', arms, shadow_rate: 0.1 });
    expect((await json('/v1/models/direct/route', { method: 'DELETE', headers: admin })).body).toEqual({ object: 'route', model: 'direct', deleted: true });
    await call('/v1/completions', { method: 'POST', headers, body });
    expect(JSON.parse(seen.filter((r) => r.url === '/v1/worker/serve').at(-1)!.body).route).toEqual({ model: 'direct', arms: [], shadow_rate: 0 });
  });

  it('answers the comparison page without a key with its own shell: nothing reaches serving, whose nodes run without keys', async () => {
    const before = seen.length;
    for (const id of ['direct', 'no-such-model']) {
      const res = await call(`/models/${id}/comparison`, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain('id="sign-in"');
      expect(html).not.toContain('id="comparison-data"');
    }
    expect(seen.length).toBe(before);
    expect((await call('/models/direct/comparison', { headers: { authorization: 'Bearer fg-not-a-key' } })).status).toBe(401);
    expect((await call('/v1/models/direct/comparison')).status).toBe(401);
  });

  it('answers GET /v1/models/:id for a name, name:variant and name:original with the id as asked', async () => {
    for (const id of ['direct', 'direct:flat-50', 'direct:original']) {
      const r = await json(`/v1/models/${id}`, { headers: admin });
      expect(r.status, id).toBe(200);
      expect(r.body).toMatchObject({ id, name: 'direct', model_id: expect.stringMatching(/^mdl_/) });
    }
    expect((await json('/v1/models/direct:nope', { headers: admin })).status).toBe(404);
  });

  it('deletes a model from D1 (rows in one batch) and R2; the claimed job of another model is untouched', async () => {
    const before = await json('/v1/models/direct', { headers: admin });
    expect(before.status).toBe(200);
    const del = await json('/v1/models/direct', { method: 'DELETE', headers: admin });
    expect(del).toEqual({ status: 200, body: { id: before.body!.model_id, object: 'model', deleted: true } });
    expect((await json('/v1/models/direct', { headers: admin })).status).toBe(404);
    const list = await json('/v1/models', { headers: admin });
    expect(list.body!.data.map((m: { id: string }) => m.id)).not.toContain('direct');
    expect((await json(`/v1/jobs/${before.body!.job.id}`, { headers: admin })).status).toBe(404);
  });
});
