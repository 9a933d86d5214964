/**
 * Issue 9 on Cloudflare: the Worker under `wrangler dev` (pinned wrangler, local D1, offline) is the
 * comparison store (request summaries and matched-workload benchmarks) of two serving gateways in
 * container mode (real `src/server.ts` processes started with the settings the ServingContainer Durable
 * Object gives its containers: open auth, no embedded worker, no bucket sweep, their own local database,
 * FLATGATE_COMPARISON_STORE_URL = the Worker). Inference reaches them through the Worker's forwarding;
 * one comparison read through the Worker shows both gateways' exact counts and the benchmark one of them
 * ran, and still does after both restart on fresh disks. Then the endpoints on D1: paged reads,
 * compaction and sweep of rows seeded with `wrangler d1 execute --local`, hostile payloads, and a model's
 * benchmarks deleted with it.
 *
 * Not real here: the Containers binding (wrangler dev cannot run containers without Docker). SERVING_URL
 * points at a small proxy that stands in for it: it sends each model id to the gateway that serves it (as
 * the binding keys instances by model) and the Worker's announcements to both. R2 is stood in for, for
 * the gateways' model files, by the embedded S3 server (the containers reach R2 through its S3 API).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../../src/model/load.ts';
import { saveHfFolder } from '../../../src/model/save-hf.ts';
import { countParams } from '../../../src/model/types.ts';
import { HttpSummaryStore } from '../../../src/platform/http-summary-store.ts';
import { mergeRows } from '../../../src/serving/summary-read.ts';
import { encodeSketch, HOUR_MS, MINUTE_MS, newSketch, ROLLUP_GATEWAY, type SummaryRow } from '../../../src/serving/summaries.ts';
import { startEmbeddedS3, type EmbeddedS3 } from '../../../src/storage/embedded-s3.ts';
import { ObjectStore } from '../../../src/storage/object-store.ts';
import { publishFolder } from '../../../src/storage/publish-folder.ts';
import { STORIES, withoutBlock } from '../../api/gateway-server.ts';
import { eventually, startGatewayProcess, type GatewayProcess } from '../../multi-gateway/gateway-process.ts';
import { listenLocal, migrateLocalD1, runWrangler, startGatewayWorker, wranglerSandbox, type WranglerDev, type WranglerSandbox } from './wrangler-harness.ts';

const WORKER_TOKEN = `wt-${randomBytes(12).toString('hex')}`;
const ADMIN_KEY = `fg-admin-${randomBytes(12).toString('hex')}`;
const S3_KEYS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const MODEL = 'fleet';
const VARIANT = 'fleet:flat-50';

const minuteOf = (t: number) => Math.floor(t / MINUTE_MS) * MINUTE_MS;

/** A row as a gateway writes it; `values` go into its sketch. */
function row(gateway: string, minute: number, variant: string, measure: string, values: number[] | null, count = values?.length ?? 1): SummaryRow {
  const sketch = values ? newSketch() : null;
  for (const v of values ?? []) sketch!.accept(v);
  return { gateway, minute, variant, measure, count, sum: values ? values.reduce((a, b) => a + b, 0) : count, sketch: sketch ? encodeSketch(sketch) : null };
}

/** Rows written hours ago (when their minutes were current), seeded straight into D1. */
const NOW = Date.now();
const OLD_HOUR = Math.floor(NOW / HOUR_MS) * HOUR_MS - 5 * HOUR_MS;
const EXPIRED = minuteOf(NOW - 40 * HOUR_MS);
const SEEDED: SummaryRow[] = [
  ...Array.from({ length: 12 }, (_, i) => [
    row(`old-${i % 3}`, OLD_HOUR + i * 5 * MINUTE_MS, 'seeded', 'e2e', [0.01 * (i + 1), 0.3]),
    row(`old-${i % 3}`, OLD_HOUR + i * 5 * MINUTE_MS, 'seeded', 'requests', null, 2),
  ]).flat(),
  row('old-0', EXPIRED, 'seeded', 'requests', null, 9),
];
const sqlText = (v: string | number | null) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`);

describe('the Worker as the comparison store of its serving containers', () => {
  let dir: string;
  let sb: WranglerSandbox;
  let dev: WranglerDev;
  let s3: EmbeddedS3;
  let proxy: Server;
  const gateways: Record<'A' | 'B', GatewayProcess | null> = { A: null, B: null };
  /** The last announcement the Worker sent (replayed to a gateway that starts on a fresh disk). */
  let announced: string | null = null;
  const admin = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
  const worker = { authorization: `Bearer ${WORKER_TOKEN}`, 'content-type': 'application/json' };
  const logs = () => [dev?.output().slice(-3000) ?? '', ...Object.values(gateways).flatMap((g) => g?.logs ?? [])].join('\n');

  /** The gateway serving `model`: the original on A, the variant on B (as the container binding keys by model id). */
  const target = (model: string | null) => gateways[model === VARIANT ? 'B' : 'A']!;

  async function startServing(name: 'A' | 'B'): Promise<void> {
    const data = await mkdtemp(join(dir, `data-${name}-`));
    const g = await startGatewayProcess(name, data, { databaseUrl: `file:${join(data, 'flatgate.db')}`, s3Endpoint: s3.endpoint, bucket: 'flatgate' }, {
      FLATGATE_WORKER_TOKEN: WORKER_TOKEN,
      FLATGATE_SWEEP_BUCKET: 'false',
      FLATGATE_COMPARISON_STORE_URL: dev.url,
      FLATGATE_SUMMARY_FLUSH_MS: '200',
    });
    gateways[name] = g;
    if (announced) {
      const r = await fetch(`${g.url}/v1/worker/serve`, { method: 'POST', headers: worker, body: announced });
      expect(r.status).toBe(200);
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fg-cf-summaries-'));
    s3 = await startEmbeddedS3({ directory: join(dir, 's3'), bucket: 'flatgate', port: 0, credentials: S3_KEYS });
    proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', async () => {
        try {
          const body = chunks.length ? Buffer.concat(chunks) : null;
          const path = req.url!;
          const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>;
          const send = (g: GatewayProcess) => fetch(`${g.url}${path}`, { method: req.method, headers, body });
          let answer: Response;
          if (path === '/v1/worker/serve') {
            announced = body!.toString();
            [answer] = await Promise.all([send(gateways.A!), send(gateways.B!)]);
          } else {
            const inPath = /^\/v1\/models\/([^/]+)\//.exec(path)?.[1];
            const model = inPath ? decodeURIComponent(inPath) : ((JSON.parse(body?.toString() || '{}') as { model?: string }).model ?? null);
            answer = await send(target(model));
          }
          res.writeHead(answer.status, Object.fromEntries([...answer.headers].filter(([k]) => !['content-length', 'content-encoding', 'transfer-encoding'].includes(k))));
          res.end(Buffer.from(await answer.arrayBuffer()));
        } catch (err) {
          res.writeHead(502).end(String(err));
        }
      });
    });
    const servingUrl = await listenLocal(proxy);

    sb = await wranglerSandbox();
    const { state, ...migrated } = await migrateLocalD1(sb);
    expect(migrated.code, migrated.out).toBe(0);
    const values = SEEDED.map((r) => `(${[r.gateway, r.minute, r.variant, r.measure, r.count, r.sum, r.sketch, NOW].map(sqlText).join(', ')})`);
    await writeFile(join(sb.dir, 'seed.sql'), `INSERT INTO request_summaries (gateway, minute, variant, measure, count, sum, sketch, updated_at) VALUES ${values.join(',\n')};\n`);
    const seeded = await runWrangler(sb, ['d1', 'execute', 'DB', '--local', '--persist-to', state, '--file', join(sb.dir, 'seed.sql'), '--yes']);
    expect(seeded.code, seeded.out).toBe(0);
    dev = await startGatewayWorker(sb, { state, servingUrl, workerToken: WORKER_TOKEN, adminKey: ADMIN_KEY });
    await Promise.all([startServing('A'), startServing('B')]);
  });

  afterAll(async () => {
    await Promise.all(Object.values(gateways).map((g) => g?.stop()));
    await dev?.stop();
    await new Promise((d) => (proxy ? proxy.close(() => d(null)) : d(null)));
    await s3?.close();
    await sb?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const json = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${dev.url}${path}`, init);
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  it('publishes a model through the Worker (D1) whose variants the two gateways serve from the bucket', async () => {
    const up = await json(`/v1/uploads?name=${MODEL}`, { method: 'POST', headers: { ...admin, 'content-type': 'application/x-tar' }, body: randomBytes(2048) });
    expect(up.status).toBe(202);
    const claim = await json('/v1/worker/claim', { method: 'POST', headers: worker, body: JSON.stringify({ worker_id: 'gpu-1' }) });
    expect(claim.status).toBe(200);
    const { job, lease } = claim.body;
    // what a compression worker publishes: each variant's HF folder under models/<id>/<variant>/
    const original = await loadModel(STORIES);
    const variant = withoutBlock(original, 2);
    const store = new ObjectStore({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'flatgate', ...S3_KEYS, forcePathStyle: true });
    const evaluation = { ppl: null, tasks: {}, agreement: {} };
    const variants = [];
    for (const [name, method, loaded] of [['original', 'original', original], ['flat-50', 'flattengpt', variant]] as const) {
      await saveHfFolder(join(dir, name, 'hf'), loaded);
      const manifest = await publishFolder(store, join(dir, name), job.model_id, name, `job-${job.id}-1`);
      variants.push({ name, method, layers: loaded.model.layers.length, params: countParams(loaded.model), bytes: manifest.bytes, evaluation, report: null });
    }
    const done = await json(`/v1/worker/jobs/${job.id}/complete`, { method: 'POST', headers: worker, body: JSON.stringify({ lease, variants }) });
    expect(done.body).toEqual({ ok: true, served: [MODEL, VARIANT] });
  });

  /** Requests per variant in the comparison the Worker forwards for `id`. */
  const compared = async (id: string) => {
    const r = await json(`/v1/models/${id}/comparison?window=3600`, { headers: admin });
    if (r.status !== 200) throw new Error(`comparison ${r.status}: ${JSON.stringify(r.body)}`);
    return Object.fromEntries((r.body.variants as { id: string; latency: { requests: number } }[]).map((v) => [v.id, v.latency.requests]));
  };

  it("one comparison through the Worker shows both gateways' traffic with exact counts", async () => {
    const complete = (model: string, i: number) =>
      fetch(`${dev.url}/v1/completions`, { method: 'POST', headers: admin, body: JSON.stringify({ model, prompt: `Once upon a time ${i}`, max_tokens: 4, temperature: 0 }) });
    for (let i = 0; i < 3; i++) {
      const r = await complete(MODEL, i);
      expect(r.status, `${await r.text()}\n${logs()}`).toBe(200);
    }
    for (let i = 0; i < 2; i++) {
      const r = await complete(VARIANT, i);
      expect(r.status, `${await r.text()}\n${logs()}`).toBe(200);
    }
    const want = { [MODEL]: 3, [VARIANT]: 2 };
    // the original's comparison is answered by A, which took none of the variant's traffic
    await eventually(async () => (JSON.stringify(await compared(MODEL)) === JSON.stringify(want) ? true : undefined), 15_000, `counts ${JSON.stringify(want)}\n${logs()}`);
    expect(await compared(VARIANT)).toEqual(want);
    // both processes wrote rows, to D1
    const read = await json('/v1/worker/summaries/read', { method: 'POST', headers: worker, body: JSON.stringify({ variants: [MODEL, VARIANT], since: NOW - HOUR_MS }) });
    expect(read.status).toBe(200);
    expect(new Set((read.body.rows as SummaryRow[]).map((r) => r.gateway)).size).toBe(2);
  });

  /** The matched workload of the comparison the Worker forwards for `id`. */
  const matchedOf = async (id: string) => {
    const r = await json(`/v1/models/${id}/comparison?window=3600`, { headers: admin });
    if (r.status !== 200) throw new Error(`comparison ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body.matched_workload as Record<string, any> | null;
  };
  /** The benchmark run through the Worker (on A). */
  let ran: Record<string, any>;

  it("a benchmark run through one gateway is the matched workload of the other's comparison, kept in D1", async () => {
    expect(await matchedOf(VARIANT)).toBeNull();
    // the original's requests go to A
    const r = await json(`/v1/models/${MODEL}/benchmark`, { method: 'POST', headers: admin, body: JSON.stringify({ requests: 2, concurrency: 1, max_tokens: 4 }) });
    expect(r.status, `${JSON.stringify(r.body)}\n${logs()}`).toBe(200);
    ran = r.body;
    expect(ran.variants.map((v: { id: string }) => v.id)).toEqual([MODEL, VARIANT]);
    // the variant's comparison is answered by B, which ran nothing
    expect(await matchedOf(VARIANT)).toEqual(ran);
    expect(await matchedOf(MODEL)).toEqual(ran);
    const latest = await json('/v1/worker/benchmarks/latest', { method: 'POST', headers: worker, body: JSON.stringify({ model: MODEL }) });
    expect(latest.body).toEqual({ object: 'benchmark.latest', model: MODEL, result: ran });
    // the benchmark's requests are not organic traffic
    expect(await compared(MODEL)).toEqual({ [MODEL]: 3, [VARIANT]: 2 });
  });

  it('the counts and the matched workload survive both gateways restarting on fresh disks', async () => {
    await Promise.all([gateways.A!.stop(), gateways.B!.stop()]);
    await Promise.all([startServing('A'), startServing('B')]);
    expect(await compared(MODEL)).toEqual({ [MODEL]: 3, [VARIANT]: 2 });
    expect(await compared(VARIANT)).toEqual({ [MODEL]: 3, [VARIANT]: 2 });
    expect(await matchedOf(VARIANT)).toEqual(ran);
    expect(await matchedOf(MODEL)).toEqual(ran);
  });

  it('on D1: upserts in bounded batches, paged reads with every row once, compaction and sweep of old rows', async () => {
    const store = new HttpSummaryStore(dev.url, WORKER_TOKEN);
    const now = minuteOf(Date.now());
    const rows: SummaryRow[] = [];
    for (const gateway of ['p1', 'p2']) for (let m = 0; m < 60; m++) for (const v of ['paged', 'paged:x']) rows.push(row(gateway, now - m * MINUTE_MS, v, 'e2e', [0.001 * (m + 1)]), row(gateway, now - m * MINUTE_MS, v, 'requests', null, m + 1), row(gateway, now - m * MINUTE_MS, v, 'prompt_tokens', null, 3));
    await store.upsert(rows);
    const back = await store.read(['paged', 'paged:x'], now - 2 * HOUR_MS);
    const key = (r: SummaryRow) => `${r.gateway}|${r.minute}|${r.variant}|${r.measure}`;
    expect(back).toHaveLength(rows.length);
    expect(new Map(back.map((r) => [key(r), r]))).toEqual(new Map(rows.map((r) => [key(r), r])));

    // the serving gateways' first flush already asked the Worker to compact: the seeded hours are rolled up
    const rolled = await store.read(['seeded'], 0);
    const expiredHour = Math.floor(EXPIRED / HOUR_MS) * HOUR_MS;
    expect(new Set(rolled.map((r) => `${r.gateway}@${r.minute}`))).toEqual(new Set([`${ROLLUP_GATEWAY}@${OLD_HOUR}`, `${ROLLUP_GATEWAY}@${expiredHour}`]));
    // a hostile "before the future" only reaches what is over 25 h old (sweep) and closed hours (compaction)
    expect(await store.sweep(Date.now() + HOUR_MS)).toBe(1);
    expect(await store.compact(Date.now() + HOUR_MS)).toBe(0);
    const after = await store.read(['seeded'], 0);
    expect(new Set(after.map((r) => `${r.gateway}@${r.minute}`))).toEqual(new Set([`${ROLLUP_GATEWAY}@${OLD_HOUR}`]));
    // exactly what was seeded in that hour: counts and sums added, sketches merged bin by bin
    const exact = mergeRows(SEEDED.filter((r) => r.minute !== EXPIRED)).get('seeded')!;
    const merged = mergeRows(after).get('seeded')!;
    expect(merged.get('requests')!.count).toBe(12 * 2);
    expect(merged.get('e2e')!.count).toBe(exact.get('e2e')!.count);
    expect(merged.get('e2e')!.sum).toBeCloseTo(exact.get('e2e')!.sum, 12);
    for (const q of [0.5, 0.9, 0.99]) expect(merged.get('e2e')!.sketch!.getValueAtQuantile(q)).toBe(exact.get('e2e')!.sketch!.getValueAtQuantile(q));
    // the gateways' own rows of this hour are untouched
    expect(await compared(MODEL)).toEqual({ [MODEL]: 3, [VARIANT]: 2 });
  });

  it("refuses a bad token, wrong types, bad sketches, stale minutes, too many rows and oversized bodies, in OpenAI's error shape", async () => {
    const good = row('gw-x', minuteOf(Date.now()), 'hostile', 'e2e', [0.1, 0.2]);
    const post = (path: string, body: string, headers: Record<string, string> = worker) => json(path, { method: 'POST', headers, body });
    const shape = { message: expect.any(String), type: expect.any(String), param: expect.anything(), code: expect.any(String) };
    for (const headers of [{ 'content-type': 'application/json' }, { ...worker, authorization: `Bearer ${ADMIN_KEY}` }]) {
      const r = await post('/v1/worker/summaries', JSON.stringify({ rows: [good] }), headers);
      expect(r.status).toBe(401);
      expect(r.body.error).toMatchObject({ ...shape, type: 'authentication_error', param: null });
    }
    const cases: [unknown, string][] = [
      [{ rows: [{ ...good, count: 'two' }] }, 'rows.0.count'],
      [{ rows: [{ ...good, sum: null }] }, 'rows.0.sum'],
      [{ rows: [{ ...good, sketch: btoa('garbage') }] }, 'rows.0.sketch'],
      [{ rows: [{ ...good, count: 5 }] }, 'rows.0.sketch'],
      [{ rows: [{ ...good, gateway: ROLLUP_GATEWAY }] }, 'rows.0.gateway'],
      [{ rows: [{ ...good, minute: OLD_HOUR }] }, 'rows.0.minute'],
      [{ rows: Array.from({ length: 501 }, (_, i) => row(`g${i}`, good.minute, 'hostile', 'requests', null)) }, 'rows'],
      [{ variants: 'hostile', since: 0 }, 'variants'],
    ];
    for (const [body, param] of cases) {
      const path = 'variants' in (body as object) ? '/v1/worker/summaries/read' : '/v1/worker/summaries';
      const r = await post(path, JSON.stringify(body));
      expect(r.status, param).toBe(400);
      expect(r.body.error).toMatchObject({ ...shape, type: 'invalid_request_error', param });
    }
    const big = await post('/v1/worker/summaries', JSON.stringify({ rows: [good], pad: 'x'.repeat(1_100_000) }));
    expect(big.status).toBe(413);
    expect(big.body.error).toMatchObject({ ...shape, param: null, code: 'request_too_large' });
    expect((await post('/v1/worker/summaries/read', JSON.stringify({ variants: ['hostile'], since: 0 }))).body.rows).toEqual([]);
  });

  it("refuses benchmarks with a bad token, bad fields, variants D1 does not have, unknown models and oversized bodies, in OpenAI's error shape", async () => {
    const post = (path: string, body: string, headers: Record<string, string> = worker) => json(path, { method: 'POST', headers, body });
    const shape = { message: expect.any(String), type: expect.any(String), param: expect.anything(), code: expect.any(String) };
    const edited = (edit: (r: Record<string, any>) => void) => {
      const r = structuredClone(ran);
      edit(r);
      return JSON.stringify(r);
    };
    for (const headers of [{ 'content-type': 'application/json' }, { ...worker, authorization: `Bearer ${ADMIN_KEY}` }]) {
      const r = await post('/v1/worker/benchmarks', JSON.stringify(ran), headers);
      expect(r.status).toBe(401);
      expect(r.body.error).toMatchObject({ ...shape, type: 'authentication_error', param: null });
    }
    const cases: [string, number, string | null][] = [
      [edited((r) => (r.settings.requests = 1000)), 400, 'settings.requests'],
      [edited((r) => (r.variants[0].latency.e2e.p50 = 'fast')), 400, 'variants.0.latency.e2e.p50'],
      [edited((r) => (r.variants[1].extra = true)), 400, 'variants.1'],
      [JSON.stringify(ran).replace(/"seconds":[0-9.e+-]+/, '"seconds":1e999'), 400, 'seconds'],
      [edited((r) => {
        r.variants[1].id = `${MODEL}:never-published`;
        r.schedule = r.schedule.map((e: string) => e.replace(VARIANT, `${MODEL}:never-published`));
      }), 400, 'variants.1.id'],
      [edited((r) => {
        r.model = 'ghost';
        r.variants[0].id = 'ghost';
        r.schedule = [];
      }), 404, 'model'],
    ];
    for (const [body, status, param] of cases) {
      const r = await post('/v1/worker/benchmarks', body);
      expect(r.status, body.slice(0, 200)).toBe(status);
      expect(r.body.error).toMatchObject({ ...shape, type: status === 404 ? 'not_found_error' : 'invalid_request_error', param });
    }
    const big = await post('/v1/worker/benchmarks', edited((r) => (r.pad = 'x'.repeat(800 * 1024))));
    expect(big.status).toBe(413);
    expect(big.body.error).toMatchObject({ ...shape, param: null, code: 'request_too_large' });
    expect((await post('/v1/worker/benchmarks/latest', JSON.stringify({ model: MODEL }))).body.result).toEqual(ran);
  });

  it("deleting the model through the Worker deletes its benchmarks in D1; one sent after is refused", async () => {
    const del = await json(`/v1/models/${MODEL}`, { method: 'DELETE', headers: admin });
    expect(del.status, JSON.stringify(del.body)).toBe(200);
    const latest = await json('/v1/worker/benchmarks/latest', { method: 'POST', headers: worker, body: JSON.stringify({ model: MODEL }) });
    expect(latest.body.result).toBeNull();
    const late = await json('/v1/worker/benchmarks', { method: 'POST', headers: worker, body: JSON.stringify(ran) });
    expect(late.status).toBe(404);
  });
});
