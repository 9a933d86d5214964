/**
 * Acceptance (issue 9): three gateway processes on one database file and one S3 server answer alike.
 * An upload through A is served by B and C (both variants); an A/B route set through B is applied by A
 * and C with the same sticky arm per user; all three restart and still serve the variants and the
 * route; traffic through A and B shows in C's comparison with the right counts, also after the restart;
 * a delete through C makes A and B answer 404 and leaves no object under the model's prefix and no cache
 * folder.
 */
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmbeddedS3, type EmbeddedS3 } from '../../src/storage/embedded-s3.ts';
import { ObjectStore } from '../../src/storage/object-store.ts';
import { CALIB_FILE, storiesTarGz } from '../pipeline/archives.ts';
import { eventually, startGatewayProcess, type GatewayProcess, type SharedStores } from './gateway-process.ts';

let dir: string;
let s3: EmbeddedS3;
let store: ObjectStore;
let shared: SharedStores;
const gateways: Record<'A' | 'B' | 'C', GatewayProcess | null> = { A: null, B: null, C: null };
const dataDir = (name: string) => join(dir, `data-${name}`);
const gw = (name: 'A' | 'B' | 'C') => gateways[name]!;

/** Summaries reach the database within a fifth of a second (default 10 s), so the test need not wait. */
const FAST_FLUSH = { FLATGATE_SUMMARY_FLUSH_MS: '200' };

/** A runs the one embedded compression worker; B and C only serve. */
async function startAll(): Promise<void> {
  gateways.A = await startGatewayProcess('A', dataDir('A'), shared, { FLATGATE_EMBEDDED_WORKER: 'true', ...FAST_FLUSH });
  [gateways.B, gateways.C] = await Promise.all([startGatewayProcess('B', dataDir('B'), shared, FAST_FLUSH), startGatewayProcess('C', dataDir('C'), shared, FAST_FLUSH)]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fg-multi-'));
  s3 = await startEmbeddedS3({ directory: join(dir, 's3'), bucket: 'shared', port: 0, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  store = new ObjectStore({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'shared', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });
  shared = { databaseUrl: `file:${join(dir, 'shared.db')}`, s3Endpoint: s3.endpoint, bucket: 'shared' };
  await startAll();
});
afterAll(async () => {
  await Promise.all(Object.values(gateways).map((g) => g?.stop()));
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

const logs = () => Object.values(gateways).flatMap((g) => g?.logs ?? []).join('');

async function complete(g: GatewayProcess, model: string, user?: string) {
  const res = await fetch(`${g.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt: 'Once upon a time', max_tokens: 4, temperature: 0, ...(user ? { user } : {}) }),
  });
  return { status: res.status, body: (await res.json()) as { model: string; choices?: { text: string }[]; error?: { code: string } } };
}

const listed = async (g: GatewayProcess) => ((await (await fetch(`${g.url}/v1/models`)).json()) as { data: { id: string }[] }).data.map((m) => m.id).sort();
const USERS = Array.from({ length: 12 }, (_, i) => `user-${i}`);
let modelId = '';

it('an upload through A is served by B and C, both variants, with the same output', async () => {
  // the fastest job the upload API allows: one method, few calibration samples, no evaluation
  const params = `methods=shortgpt&calib_samples=4&seq=32&evaluate=false&calibration_file=${encodeURIComponent(CALIB_FILE)}`;
  const res = await fetch(`${gw('A').url}/v1/uploads?name=shared-tiny&${params}`, { method: 'POST', body: await storiesTarGz(), headers: { 'content-type': 'application/gzip' } });
  expect(res.status).toBe(202);
  const up = (await res.json()) as { model: { id: string }; job: { id: string } };
  modelId = up.model.id;
  await eventually(async () => {
    const j = (await (await fetch(`${gw('C').url}/v1/jobs/${up.job.id}`)).json()) as { status: string };
    if (j.status === 'failed') throw new Error(`job failed: ${logs()}`);
    return j.status === 'done' ? j : undefined;
  }, 90_000, 'the job');
  // no waiting for a poll: a pool miss reads the database at once
  const outputs = new Set<string>();
  for (const name of ['B', 'C', 'A'] as const) {
    for (const model of ['shared-tiny', 'shared-tiny:shortgpt-20']) {
      const out = await complete(gw(name), model);
      expect(out.status, `${name} ${model}: ${JSON.stringify(out.body)}\n${logs()}`).toBe(200);
      expect(out.body.model).toBe(model);
      outputs.add(`${model}=${out.body.choices![0].text}`);
    }
  }
  expect(outputs.size).toBe(2); // each variant answers the same on every gateway
  for (const name of ['A', 'B', 'C'] as const) {
    expect(await eventually(async () => ((await listed(gw(name))).length === 2 ? listed(gw(name)) : undefined), 5000)).toEqual(['shared-tiny', 'shared-tiny:shortgpt-20']);
  }
});

/** The variant each user is served on gateway `g`. */
async function assignments(g: GatewayProcess): Promise<string[]> {
  const out: string[] = [];
  for (const user of USERS) {
    const r = await complete(g, 'shared-tiny', user);
    expect(r.status).toBe(200);
    out.push(r.body.model);
  }
  return out;
}

let sticky: string[] = [];

it('a route set through B is applied by A and C within seconds, with the same arm per user', async () => {
  const arms = [
    { variant: 'shared-tiny', weight: 50 },
    { variant: 'shared-tiny:shortgpt-20', weight: 50 },
  ];
  const put = await fetch(`${gw('B').url}/v1/models/shared-tiny/route`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ arms, shadow_rate: 0.25 }) });
  expect(put.status).toBe(200);
  const started = Date.now();
  for (const name of ['A', 'C'] as const) {
    const route = await eventually(async () => {
      const r = (await (await fetch(`${gw(name).url}/v1/models/shared-tiny/route`)).json()) as { arms: unknown[]; shadow_rate: number };
      return r.arms.length === 2 ? r : undefined;
    }, 5000, `the route on ${name}`);
    expect(route).toMatchObject({ arms, shadow_rate: 0.25 });
  }
  expect(Date.now() - started).toBeLessThan(5000);
  sticky = await assignments(gw('B'));
  expect(new Set(sticky)).toEqual(new Set(['shared-tiny', 'shared-tiny:shortgpt-20']));
  expect(await assignments(gw('A'))).toEqual(sticky);
  expect(await assignments(gw('C'))).toEqual(sticky);
});

/** Requests per variant in `g`'s comparison (every gateway's traffic over the last hour). */
async function comparedCounts(g: GatewayProcess): Promise<Record<string, number>> {
  const c = (await (await fetch(`${g.url}/v1/models/shared-tiny/comparison?window=3600`)).json()) as { variants: { id: string; latency: { requests: number } }[] };
  return Object.fromEntries(c.variants.map((v) => [v.id, v.latency.requests]));
}

let counted: Record<string, number> = {};

it("traffic through A and B shows in C's comparison with the right counts", async () => {
  const settled = async () => {
    const a = await comparedCounts(gw('C'));
    await new Promise((r) => setTimeout(r, 600));
    const b = await comparedCounts(gw('C'));
    return JSON.stringify(a) === JSON.stringify(b) ? b : undefined;
  };
  const before = await eventually(settled, 10_000, 'the earlier traffic reaching the database');
  for (let i = 0; i < 5; i++) expect((await complete(gw('A'), 'shared-tiny:shortgpt-20')).status).toBe(200);
  for (let i = 0; i < 3; i++) expect((await complete(gw('B'), 'shared-tiny:original')).status).toBe(200);
  const want = { 'shared-tiny': before['shared-tiny'] + 3, 'shared-tiny:shortgpt-20': before['shared-tiny:shortgpt-20'] + 5 };
  counted = await eventually(async () => {
    const now = await comparedCounts(gw('C'));
    return JSON.stringify(now) === JSON.stringify(want) ? now : undefined;
  }, 10_000, "A's and B's traffic in C's comparison");
  // every gateway answers the same comparison
  expect(await comparedCounts(gw('A'))).toEqual(counted);
  expect(await comparedCounts(gw('B'))).toEqual(counted);
});

it('after all three restart, the comparison, the variants and the route are still there, with the same assignments', async () => {
  await Promise.all(Object.values(gateways).map((g) => g!.stop()));
  await startAll();
  for (const name of ['A', 'B', 'C'] as const) expect(await comparedCounts(gw(name))).toEqual(counted);
  for (const name of ['A', 'B', 'C'] as const) {
    expect(await listed(gw(name))).toEqual(['shared-tiny', 'shared-tiny:shortgpt-20']);
    expect(await assignments(gw(name))).toEqual(sticky);
  }
});

it('a delete through C makes A and B answer 404 and leaves no object and no cache folder', async () => {
  expect((await store.list(`models/${modelId}/`)).length).toBeGreaterThan(0);
  const del = await fetch(`${gw('C').url}/v1/models/shared-tiny`, { method: 'DELETE' });
  expect(del.status).toBe(200);
  for (const name of ['A', 'B', 'C'] as const) {
    for (const model of ['shared-tiny', 'shared-tiny:shortgpt-20']) {
      const out = await eventually(async () => {
        const r = await complete(gw(name), model);
        return r.status === 404 ? r : undefined;
      }, 5000, `404 for ${model} on ${name}`);
      expect(out.body.error?.code).toBe('model_not_found');
    }
    expect(await listed(gw(name))).toEqual([]);
    // the route went with the model
    expect((await fetch(`${gw(name).url}/v1/models/shared-tiny/route`)).status).toBe(404);
  }
  expect(await store.list(`models/${modelId}/`)).toEqual([]);
  for (const name of ['A', 'B', 'C']) await expect(access(join(dataDir(name), 'cache', modelId))).rejects.toThrow();
});
