/**
 * The summary store over HTTP (issue 9, stateless serving nodes): serving apps without a share of the
 * database write their per-minute summaries through another gateway's `/v1/worker/summaries` endpoints
 * and read every gateway's rows back from there. Real parts: the Node gateway (libsql file, embedded S3)
 * serving the endpoints, the serving apps with stories260K and their recorders, HttpSummaryStore over
 * loopback HTTP. The same router runs in the Worker over D1 (test/runtime/workerd/summaries.test.ts).
 */
import { serve, type ServerType } from '@hono/node-server';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { readSummaries, upsertSummaries } from '../../src/db/queries/request-summaries.ts';
import { loadModel } from '../../src/model/load.ts';
import { ComparisonStoreUnavailable } from '../../src/platform/comparison-store-client.ts';
import { HttpSummaryStore } from '../../src/platform/http-summary-store.ts';
import type { Comparison } from '../../src/routes/comparison-page.ts';
import { ModelPool } from '../../src/serving/model-pool.ts';
import { mergeRows } from '../../src/serving/summary-read.ts';
import { encodeSketch, HOUR_MS, MINUTE_MS, newSketch, ROLLUP_GATEWAY, SummaryRecorder, type SummaryRow } from '../../src/serving/summaries.ts';
import { startTestGateway, TOKEN, type TestGateway } from '../pipeline/gateway.ts';
import { STORIES, VARIANT, withoutBlock } from './gateway-server.ts';

let store: TestGateway;
beforeAll(async () => {
  store = await startTestGateway();
});
afterAll(async () => {
  await store?.close();
});

const minuteOf = (t: number) => Math.floor(t / MINUTE_MS) * MINUTE_MS;

/** A row as a gateway writes it; `values` go into its sketch (count = their number). */
function row(gateway: string, minute: number, variant: string, measure: string, values: number[] | null, count = values?.length ?? 1): SummaryRow {
  const sketch = values ? newSketch() : null;
  for (const v of values ?? []) sketch!.accept(v);
  return { gateway, minute, variant, measure, count, sum: values ? values.reduce((a, b) => a + b, 0) : count, sketch: sketch ? encodeSketch(sketch) : null };
}

/** A serving app with stories260K and its variant whose recorder writes through `summaryUrl`. */
async function servingApp(gateway: string, summaryUrl: string): Promise<{ url: string; recorder: SummaryRecorder; close(): Promise<void> }> {
  const original = await loadModel(STORIES);
  const pool = new ModelPool({ session: { threads: 1 } });
  pool.add('stories260K', original, { parent: null, method: 'original' });
  pool.add(VARIANT, withoutBlock(original, 2), { parent: 'stories260K', method: 'shortgpt' });
  const recorder = new SummaryRecorder(new HttpSummaryStore(summaryUrl, TOKEN), gateway);
  const app = createApp({ pool, maxRequestBytes: 1 << 20, log: () => undefined, summaries: recorder });
  const server: ServerType = await new Promise((ok) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => ok(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, recorder, close: () => new Promise((r) => server.close(() => r())) };
}

const comparison = async (url: string): Promise<Comparison> => (await (await fetch(`${url}/v1/models/stories260K/comparison?window=600`)).json()) as Comparison;
const requestsOf = (c: Comparison, id: string) => c.variants.find((v) => v.id === id)!.latency.requests;

describe('serving apps keeping their summaries in another gateway over HTTP', () => {
  it("each one's comparison shows both apps' traffic with exact counts, and the rows are in the store's database", async () => {
    const [a, b] = await Promise.all([servingApp('gw-http-a', store.url), servingApp('gw-http-b', store.url)]);
    try {
      const [ca, cb] = [a, b].map((s) => new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 }));
      for (let i = 0; i < 3; i++) await ca.completions.create({ model: 'stories260K', prompt: `Sam ${i}`, max_tokens: 4, temperature: 0 });
      await cb.completions.create({ model: 'stories260K', prompt: 'Sue', max_tokens: 4, temperature: 0 });
      for (let i = 0; i < 2; i++) await cb.completions.create({ model: VARIANT, prompt: `Ann ${i}`, max_tokens: 4, temperature: 0 });
      // reading a comparison writes the reader's own minutes first: B's then carry both
      await b.recorder.flush();
      const viaA = await comparison(a.url);
      expect(requestsOf(viaA, 'stories260K')).toBe(4);
      expect(requestsOf(viaA, VARIANT)).toBe(2);
      expect(viaA.variants[0].latency.e2e.n).toBe(4);
      const viaB = await comparison(b.url);
      expect([requestsOf(viaB, 'stories260K'), requestsOf(viaB, VARIANT)]).toEqual([4, 2]);
      const stored = await readSummaries(store.platform.db, ['stories260K', VARIANT], 0);
      expect(new Set(stored.map((r) => r.gateway))).toEqual(new Set(['gw-http-a', 'gw-http-b']));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a flush the store cannot take stays in memory and is written whole once the store is back', async () => {
    // a port nobody listens on yet; later a plain proxy to the store listens there
    const port = await new Promise<number>((ok) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => ok(p));
      });
    });
    const recorder = new SummaryRecorder(new HttpSummaryStore(`http://127.0.0.1:${port}`, TOKEN, 5_000), 'gw-offline');
    const sample = (at: number) => ({ model: 'offline', variant: 'offline', at, queue: 0, ttft: 0.01, itl: [0.002], e2e: 0.02, promptTokens: 3, completionTokens: 2 });
    recorder.sample(sample(Date.now()));
    recorder.sample(sample(Date.now()));
    await expect(recorder.flush()).rejects.toBeInstanceOf(ComparisonStoreUnavailable);
    recorder.sample(sample(Date.now()));
    const target = new URL(store.url);
    const proxy: Server = createServer((req, res) => {
      const out = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      });
      req.pipe(out);
    });
    await new Promise<void>((ok) => proxy.listen(port, '127.0.0.1', () => ok()));
    try {
      await recorder.flush();
      const counts = mergeRows(await readSummaries(store.platform.db, ['offline'], 0)).get('offline')!;
      expect(counts.get('requests')!.count).toBe(3);
      expect(counts.get('e2e')!.sketch!.count).toBe(3);
      expect(recorder.dropped).toBe(0);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it('upserts go in bounded calls and reads come back page by page, every row exactly once', async () => {
    const client = new HttpSummaryStore(store.url, TOKEN);
    const now = minuteOf(Date.now());
    const rows: SummaryRow[] = [];
    // 3 variants x 3 gateways x 60 minutes x 2 measures = 1080 rows, more than two pages
    for (const variant of ['paged', 'paged:a', 'paged:b']) {
      for (const gateway of ['g1', 'g2', 'g3']) {
        for (let m = 0; m < 60; m++) rows.push(row(gateway, now - m * MINUTE_MS, variant, 'requests', null, 1 + m), row(gateway, now - m * MINUTE_MS, variant, 'e2e', [0.01 * (1 + m), 0.02]));
      }
    }
    // sketches of many bins: ~20 KB each, so calls are cut by bytes before rows
    for (let i = 0; i < 40; i++) rows.push(row(`wide-${i}`, now, 'paged', 'itl', Array.from({ length: 1500 }, (_, k) => 1e-6 * 1.03 ** k)));
    await client.upsert(rows);
    const back = await client.read(['paged', 'paged:a', 'paged:b', ...Array.from({ length: 70 }, (_, i) => `absent-${i}`)], now - 2 * HOUR_MS);
    const key = (r: SummaryRow) => `${r.gateway}|${r.minute}|${r.variant}|${r.measure}`;
    expect(back).toHaveLength(rows.length);
    expect(new Set(back.map(key)).size).toBe(rows.length);
    expect(new Map(back.map((r) => [key(r), r]))).toEqual(new Map(rows.map((r) => [key(r), r])));
    expect((await client.read(['paged:a'], now - 10 * MINUTE_MS + 1)).length).toBe(3 * 2 * 10);
  });

  it('sweeps and compacts in the store, never within the retention floor or the hours gateways still write', async () => {
    const client = new HttpSummaryStore(store.url, TOKEN);
    const now = Date.now();
    const hour = Math.floor(now / HOUR_MS) * HOUR_MS - 5 * HOUR_MS;
    const old = minuteOf(now - 30 * HOUR_MS);
    const recent = minuteOf(now);
    // rows a gateway wrote when their minutes were current (the endpoint would refuse them now)
    const past: SummaryRow[] = [];
    for (let m = 0; m < 60; m += 7) for (const gw of ['c1', 'c2']) past.push(row(gw, hour + m * MINUTE_MS, 'kept', 'e2e', [0.01 + m / 1000, 0.5]), row(gw, hour + m * MINUTE_MS, 'kept', 'requests', null, 2));
    await upsertSummaries(store.platform.db, [...past, row('c1', old, 'kept', 'requests', null, 5)]);
    await client.upsert([row('c1', recent, 'kept', 'requests', null, 7)]);
    const exact = mergeRows(await client.read(['kept'], 0)).get('kept')!;
    // a hostile "everything before now" sweeps only what is older than 25 h; compaction only closed hours
    expect(await client.sweep(now + HOUR_MS)).toBeGreaterThanOrEqual(1);
    expect(await client.compact(now + HOUR_MS)).toBeGreaterThanOrEqual(1);
    const after = await client.read(['kept'], 0);
    expect(after.filter((r) => r.minute === old)).toEqual([]);
    expect(after.filter((r) => r.minute >= hour && r.minute < hour + HOUR_MS).map((r) => r.gateway)).toEqual([ROLLUP_GATEWAY, ROLLUP_GATEWAY]);
    expect(after.find((r) => r.minute === recent)?.count).toBe(7);
    const merged = mergeRows(after).get('kept')!;
    expect(merged.get('requests')!.count).toBe(exact.get('requests')!.count - 5);
    expect(merged.get('e2e')!.count).toBe(exact.get('e2e')!.count);
    for (const q of [0.5, 0.99]) expect(merged.get('e2e')!.sketch!.getValueAtQuantile(q)).toBe(exact.get('e2e')!.sketch!.getValueAtQuantile(q));
  });
});

describe('the summary endpoints refuse what a gateway would never send, in OpenAI\'s error shape', () => {
  const post = async (path: string, body: unknown, token: string | null = TOKEN, raw = false) => {
    const res = await fetch(`${store.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: raw ? (body as string) : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { error?: { message: string; type: string; param: string | null; code: string | null } } };
  };
  const now = () => minuteOf(Date.now());
  const good = () => row('gw-x', now(), 'hostile', 'e2e', [0.1, 0.2]);

  it('without the worker token: 401', async () => {
    for (const path of ['/v1/worker/summaries', '/v1/worker/summaries/read', '/v1/worker/summaries/sweep', '/v1/worker/summaries/compact']) {
      for (const token of [null, 'not-the-token']) {
        const r = await post(path, { rows: [good()] }, token);
        expect(r.status, `${path} ${token}`).toBe(401);
        expect(r.body.error).toMatchObject({ type: 'authentication_error', code: expect.any(String), param: null, message: expect.any(String) });
      }
    }
  });

  it('wrong types, unknown fields, bad sketches, rollup rows, stale or future minutes, too many rows or variants: 400 naming the field', async () => {
    const cases: [unknown, string | null][] = [
      ['not json', null],
      [{ rows: 'x' }, 'rows'],
      [{ rows: [] }, 'rows'],
      [{ rows: [{ ...good(), count: '2' }] }, 'rows.0.count'],
      [{ rows: [{ ...good(), count: 1.5 }] }, 'rows.0.count'],
      [{ rows: [{ ...good(), sum: 'NaN' }] }, 'rows.0.sum'],
      [{ rows: [{ ...good(), sum: -1 }] }, 'rows.0.sum'],
      [{ rows: [{ ...good(), minute: now() + 1 }] }, 'rows.0.minute'],
      [{ rows: [{ ...good(), minute: now() - 3 * HOUR_MS }] }, 'rows.0.minute'],
      [{ rows: [{ ...good(), minute: now() + HOUR_MS }] }, 'rows.0.minute'],
      [{ rows: [{ ...good(), gateway: ROLLUP_GATEWAY }] }, 'rows.0.gateway'],
      [{ rows: [{ ...good(), gateway: 'a\nb' }] }, 'rows.0.gateway'],
      [{ rows: [{ ...good(), variant: 'v'.repeat(301) }] }, 'rows.0.variant'],
      [{ rows: [{ ...good(), extra: 1 }] }, 'rows.0'],
      [{ rows: [{ ...good(), sketch: '%%%' }] }, 'rows.0.sketch'],
      [{ rows: [{ ...good(), sketch: btoa('not a sketch at all') }] }, 'rows.0.sketch'],
      [{ rows: [{ ...good(), count: 3 }] }, 'rows.0.sketch'],
      [{ rows: [{ ...good(), sketch: 'A'.repeat(70_000) }] }, 'rows.0.sketch'],
      [{ rows: Array.from({ length: 501 }, (_, i) => row(`g${i}`, now(), 'hostile', 'requests', null)) }, 'rows'],
    ];
    for (const [body, param] of cases) {
      const r = await post('/v1/worker/summaries', body, TOKEN, body === 'not json');
      expect(r.status, JSON.stringify(body).slice(0, 200)).toBe(400);
      expect(r.body.error, JSON.stringify(body).slice(0, 200)).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param, message: expect.any(String) });
    }
    const reads: [unknown, string | null][] = [
      [{ variants: [], since: 0 }, 'variants'],
      [{ variants: Array.from({ length: 65 }, (_, i) => `v${i}`), since: 0 }, 'variants'],
      [{ variants: ['hostile'], since: -1 }, 'since'],
      [{ variants: ['hostile'], since: 0, after: { hostile: { minute: 0, rowid: 'x' } } }, 'after.hostile.rowid'],
    ];
    for (const [body, param] of reads) {
      const r = await post('/v1/worker/summaries/read', body);
      expect(r.status, JSON.stringify(body).slice(0, 200)).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param });
    }
    expect((await post('/v1/worker/summaries/sweep', { before: 'now' })).status).toBe(400);
    expect((await post('/v1/worker/summaries/compact', {})).status).toBe(400);
    // nothing of it was written
    expect(await readSummaries(store.platform.db, ['hostile'], 0)).toEqual([]);
  });

  it('a body over the request limit: 413', async () => {
    const r = await post('/v1/worker/summaries', { rows: [good()], pad: 'x'.repeat(1 << 20) });
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', message: expect.any(String) });
  });
});
