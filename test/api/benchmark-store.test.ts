/**
 * The benchmark store over HTTP (issue 9, stateless serving nodes): serving apps without a share of the
 * database save the matched-workload benchmarks they run through another gateway's
 * `/v1/worker/benchmarks` endpoints and read the latest back from there, so a benchmark run through one
 * is the matched workload of every one's comparison. Real parts: the Node gateway (libsql file, embedded
 * S3) serving the endpoints, serving apps with stories260K and its variant running real benchmarks,
 * HttpBenchmarkStore over loopback HTTP. Then hostile payloads against the endpoints, and the rows going
 * with the model. The same router runs in the Worker over D1 (test/runtime/workerd/summaries.test.ts).
 */
import { serve, type ServerType } from '@hono/node-server';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { latestBenchmark } from '../../src/db/queries/benchmark-results.ts';
import { insertModel } from '../../src/db/queries/models.ts';
import { upsertVariant } from '../../src/db/queries/variants.ts';
import { loadModel } from '../../src/model/load.ts';
import { countParams } from '../../src/model/types.ts';
import { HttpBenchmarkStore } from '../../src/platform/http-benchmark-store.ts';
import { HttpSummaryStore } from '../../src/platform/http-summary-store.ts';
import type { BenchmarkResult } from '../../src/serving/benchmark-result.ts';
import { ModelPool } from '../../src/serving/model-pool.ts';
import { SummaryRecorder } from '../../src/serving/summaries.ts';
import { startTestGateway, TOKEN, type TestGateway } from '../pipeline/gateway.ts';
import { STORIES, VARIANT, withoutBlock } from './gateway-server.ts';

const MODEL = 'stories260K';
const PENDING = `${MODEL}:flattengpt-50`;

let store: TestGateway;
beforeAll(async () => {
  store = await startTestGateway();
  // the store knows the model as uploaded: the original and one variant ready, one still pending
  const { db } = store.platform;
  const original = (await loadModel(STORIES)).model;
  await insertModel(db, { id: 'mdl_bench', name: MODEL, status: 'ready', sourceBucket: 'b', sourceKey: 'k', createdAt: Date.now() });
  const rows = [
    { id: MODEL, name: 'original', method: 'original', status: 'ready' as const },
    { id: VARIANT, name: 'shortgpt-20', method: 'shortgpt', status: 'ready' as const },
    { id: PENDING, name: 'flattengpt-50', method: 'flattengpt', status: 'pending' as const },
  ];
  for (const [i, r] of rows.entries()) {
    await upsertVariant(db, { ...r, modelId: 'mdl_bench', layers: original.layers.length, params: countParams(original), bytes: 1, prefix: 'p', createdAt: Date.now() + i });
  }
});
afterAll(async () => {
  await store?.close();
});

/** A serving app with stories260K and its variant whose summaries and benchmarks go to `storeUrl`. */
async function servingApp(gateway: string, storeUrl: string, timeoutMs?: number): Promise<{ url: string; close(): Promise<void> }> {
  const original = await loadModel(STORIES);
  const pool = new ModelPool({ session: { threads: 1 } });
  pool.add(MODEL, original, { parent: null, method: 'original' });
  pool.add(VARIANT, withoutBlock(original, 2), { parent: MODEL, method: 'shortgpt' });
  const summaries = new SummaryRecorder(new HttpSummaryStore(storeUrl, TOKEN, timeoutMs), gateway);
  const app = createApp({ pool, maxRequestBytes: 1 << 20, log: () => undefined, summaries, benchmarks: new HttpBenchmarkStore(storeUrl, TOKEN, timeoutMs) });
  const server: ServerType = await new Promise((ok) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => ok(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

const matched = async (url: string) => ((await (await fetch(`${url}/v1/models/${MODEL}/comparison?window=600`)).json()) as { matched_workload: BenchmarkResult | null }).matched_workload;
const benchmark = (url: string) =>
  fetch(`${url}/v1/models/${VARIANT}/benchmark`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: 2, concurrency: 1, max_tokens: 4, prompts: ['Once upon a time', 'Lily\u0007 "went" \\ ☃'] }) });

describe('serving apps keeping their benchmarks in another gateway over HTTP', () => {
  it("a benchmark run through one is the matched workload of the other's comparison, and outlives both", async () => {
    const [a, b] = await Promise.all([servingApp('gw-bench-a', store.url), servingApp('gw-bench-b', store.url)]);
    let ran: BenchmarkResult;
    try {
      expect(await matched(b.url)).toBeNull();
      const res = await benchmark(a.url);
      expect(res.status).toBe(200);
      ran = (await res.json()) as BenchmarkResult;
      expect(ran.model).toBe(MODEL);
      expect(ran.variants.map((v) => v.id)).toEqual([MODEL, VARIANT]);
      expect(await matched(b.url)).toEqual(ran);
      expect(await matched(a.url)).toEqual(ran);
      expect(await latestBenchmark(store.platform.db, MODEL)).toEqual(ran);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    // a new serving app, with nothing of its own, shows it too
    const c = await servingApp('gw-bench-c', store.url);
    try {
      expect(await matched(c.url)).toEqual(ran);
    } finally {
      await c.close();
    }
  });

  it("a benchmark whose store cannot be reached answers 502 in OpenAI's shape", async () => {
    const port = await new Promise<number>((ok) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => ok(p));
      });
    });
    const app = await servingApp('gw-bench-offline', `http://127.0.0.1:${port}`, 5_000);
    try {
      const res = await benchmark(app.url);
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ type: 'server_error', code: 'comparison_store_unavailable', param: null, message: expect.stringContaining('could not be reached') });
    } finally {
      await app.close();
    }
  });
});

/** A result as runBenchmark makes it, for MODEL and VARIANT. */
function good(): BenchmarkResult {
  const p = (x: number, n: number) => ({ p50: x, p95: x * 1.5, p99: x * 2, n });
  const latency = (s: number) => ({ requests: 4, completion_tokens: 32, ttft: p(0.01 * s, 4), itl: p(0.002 * s, 28), e2e: p(0.03 * s, 4), tokens_per_second: 500 / s, prefill_tokens_per_second: 4000 / s });
  const ratios = (r: number) => ({ ttft_p50: r, itl_p50: r, e2e_p50: r, tokens_per_second: 1 / r, prefill_tokens_per_second: 1 / r });
  return {
    object: 'benchmark',
    model: MODEL,
    created_at: new Date().toISOString(),
    seconds: 1.25,
    settings: { requests: 4, concurrency: 2, max_tokens: 8, prompts: ['Once upon a time'], interleaved: true },
    schedule: [`${MODEL}×2`, `${VARIANT}×2`, `${VARIANT}×2`, `${MODEL}×2`],
    variants: [
      { id: MODEL, latency: latency(1), ratios: ratios(1) },
      { id: VARIANT, latency: latency(0.8), ratios: ratios(0.8) },
    ],
  };
}

/** `good()` changed by `edit` (which may mutate it). */
function bad(edit: (r: any) => void): BenchmarkResult { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = good();
  edit(r);
  return r;
}

describe("the benchmark endpoints refuse what a serving node would never send, in OpenAI's error shape", () => {
  type ErrorBody = { error?: { message: string; type: string; param: string | null; code: string | null } };
  const post = async (path: string, body: unknown, token: string | null = TOKEN, raw = false) => {
    const res = await fetch(`${store.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: raw ? (body as string) : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as ErrorBody & Record<string, unknown> };
  };
  const latestOf = async () => (await post('/v1/worker/benchmarks/latest', { model: MODEL })).body.result;

  it('without the worker token: 401', async () => {
    for (const [path, body] of [['/v1/worker/benchmarks', good()], ['/v1/worker/benchmarks/latest', { model: MODEL }]] as const) {
      for (const token of [null, 'not-the-token']) {
        const r = await post(path, body, token);
        expect(r.status, `${path} ${token}`).toBe(401);
        expect(r.body.error).toMatchObject({ type: 'authentication_error', code: expect.any(String), param: null, message: expect.any(String) });
      }
    }
  });

  it('wrong types, unknown fields, unbounded sizes, numbers not finite, schedules and variants that do not add up: 400 naming the field', async () => {
    const before = await latestOf();
    const many = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
    const cases: [unknown, string | null][] = [
      ['not json', null],
      [[good()], null],
      [bad((r) => (r.object = 'comparison')), 'object'],
      [bad((r) => delete r.model), 'model'],
      [bad((r) => (r.model = 7)), 'model'],
      [bad((r) => (r.extra = 1)), null],
      [bad((r) => (r.created_at = 'yesterday')), 'created_at'],
      [bad((r) => (r.seconds = -1)), 'seconds'],
      [bad((r) => (r.seconds = '1')), 'seconds'],
      [bad((r) => (r.seconds = 1e12)), 'seconds'],
      [bad((r) => (r.settings.requests = 65)), 'settings.requests'],
      [bad((r) => (r.settings.concurrency = 0)), 'settings.concurrency'],
      [bad((r) => (r.settings.max_tokens = 2.5)), 'settings.max_tokens'],
      [bad((r) => (r.settings.prompts = many(17, () => 'x'))), 'settings.prompts'],
      [bad((r) => (r.settings.prompts = ['x'.repeat(4097)])), 'settings.prompts.0'],
      [bad((r) => (r.settings.prompts = [{ text: 'x' }])), 'settings.prompts.0'],
      [bad((r) => (r.settings.interleaved = false)), 'settings.interleaved'],
      [bad((r) => (r.settings.seed = 1)), 'settings'],
      [bad((r) => (r.schedule = many(1025, () => `${MODEL}×1`))), 'schedule'],
      [bad((r) => (r.schedule[1] = `${PENDING}×2`)), 'schedule.1'],
      [bad((r) => (r.schedule[2] = `${VARIANT}×3`)), 'schedule.2'],
      [bad((r) => (r.schedule[0] = MODEL)), 'schedule.0'],
      [bad((r) => (r.variants = [])), 'variants'],
      [bad((r) => (r.variants = many(17, (i) => ({ ...good().variants[0], id: i ? `${MODEL}:v${i}` : MODEL })))), 'variants'],
      [bad((r) => (r.variants[1].id = MODEL)), 'variants.1.id'],
      [bad((r) => (r.variants[1].id = 'a\nb')), 'variants.1.id'],
      [bad((r) => (r.variants[1].id = 'v'.repeat(201))), 'variants.1.id'],
      [bad((r) => (r.variants = [good().variants[1]])), 'model'],
      [bad((r) => (r.variants[0].latency.ttft.p50 = 'NaN')), 'variants.0.latency.ttft.p50'],
      [bad((r) => (r.variants[0].latency.ttft.p50 = -0.1)), 'variants.0.latency.ttft.p50'],
      [bad((r) => (r.variants[0].latency.itl.n = 1.5)), 'variants.0.latency.itl.n'],
      [bad((r) => (r.variants[0].latency.e2e.n = 65)), 'variants.0.latency.e2e.n'],
      [bad((r) => (r.variants[0].latency.requests = 10 ** 9)), 'variants.0.latency.requests'],
      [bad((r) => (r.variants[0].latency.tokens_per_second = -5)), 'variants.0.latency.tokens_per_second'],
      [bad((r) => (r.variants[0].latency.note = 'x')), 'variants.0.latency'],
      [bad((r) => delete r.variants[1].ratios.itl_p50), 'variants.1.ratios.itl_p50'],
      [bad((r) => (r.variants[1].ratios.e2e_p50 = 1e13)), 'variants.1.ratios.e2e_p50'],
    ];
    for (const [body, param] of cases) {
      const r = await post('/v1/worker/benchmarks', body, TOKEN, body === 'not json');
      const what = JSON.stringify(body).slice(0, 300);
      expect(r.status, what).toBe(400);
      expect(r.body.error, what).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param, message: expect.any(String) });
    }
    // JSON numbers too large for a double parse as Infinity: refused, never stored as null
    for (const [text, param] of [
      [JSON.stringify(good()).replace('"seconds":1.25', '"seconds":1e999'), 'seconds'],
      [JSON.stringify(good()).replace('"tokens_per_second":500', '"tokens_per_second":1e999'), 'variants.0.latency.tokens_per_second'],
    ] as const) {
      expect(text).toContain('e999');
      const r = await post('/v1/worker/benchmarks', text, TOKEN, true);
      expect(r.status, text.slice(0, 200)).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param });
    }
    const reads: [unknown, string | null][] = [
      [{}, 'model'],
      [{ model: 3 }, 'model'],
      [{ model: '' }, 'model'],
      [{ model: MODEL, since: 0 }, null],
    ];
    for (const [body, param] of reads) {
      const r = await post('/v1/worker/benchmarks/latest', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param });
    }
    // nothing of it was written
    expect(await latestOf()).toEqual(before);
  });

  it('variants the database does not have ready for the model: 400; a model it does not know: 404', async () => {
    const before = await latestOf();
    for (const id of [PENDING, `${MODEL}:never-published`, 'other-model']) {
      const r = await post('/v1/worker/benchmarks', bad((x) => {
        x.variants[1].id = id;
        x.schedule = x.schedule.map((e: string) => e.replace(VARIANT, id));
      }));
      expect(r.status, id).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param: 'variants.1.id', message: expect.stringContaining('is not a ready variant') });
    }
    const ghost = bad((r) => {
      r.model = 'ghost';
      r.variants[0].id = 'ghost';
      r.schedule = [];
    });
    const r = await post('/v1/worker/benchmarks', ghost);
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ type: 'not_found_error', code: 'model_not_found', param: 'model' });
    expect(await latestOf()).toEqual(before);
    expect((await post('/v1/worker/benchmarks/latest', { model: 'ghost' })).body).toEqual({ object: 'benchmark.latest', model: 'ghost', result: null });
  });

  it('a body over the benchmark limit (768 KiB), though under the request limit: 413', async () => {
    const r = await post('/v1/worker/benchmarks', { ...good(), pad: 'x'.repeat(800 * 1024) });
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large', message: expect.stringContaining(String(768 * 1024)) });
  });

  it('a good result is saved and is the latest; deleting the model deletes its benchmarks', async () => {
    const result = good();
    const saved = await post('/v1/worker/benchmarks', result);
    expect(saved.status).toBe(200);
    expect(saved.body).toEqual({ object: 'benchmark.saved', model: MODEL });
    expect(await latestOf()).toEqual(result);
    const del = await fetch(`${store.url}/v1/models/${MODEL}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(await latestBenchmark(store.platform.db, MODEL)).toBeNull();
    expect(await latestOf()).toBeNull();
    // and a result for it now is refused, not kept for a later model of the same name
    expect((await post('/v1/worker/benchmarks', good())).status).toBe(404);
    expect(await latestBenchmark(store.platform.db, MODEL)).toBeNull();
  });
});
