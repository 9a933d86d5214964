/**
 * The comparison is every gateway's and outlives them: two gateway apps on one database (each its own
 * summary recorder) and then real gateway processes (`src/server.ts`, as `npm start` runs it) sharing a
 * database file; counts come out exact whichever gateway is asked, after all of them restart too, and
 * a benchmark run through one gateway is the matched workload every gateway shows.
 */
import { serve, type ServerType } from '@hono/node-server';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { openLibsql } from '../../src/db/open-libsql.ts';
import { dbBenchmarkStore } from '../../src/db/queries/benchmark-results.ts';
import { dbSummaryStore, readSummaries } from '../../src/db/queries/request-summaries.ts';
import { loadModel } from '../../src/model/load.ts';
import type { Comparison } from '../../src/routes/comparison-page.ts';
import { ModelPool } from '../../src/serving/model-pool.ts';
import { SummaryRecorder } from '../../src/serving/summaries.ts';
import { STORIES, VARIANT, withoutBlock } from '../api/gateway-server.ts';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'fg-cmp-'));
  dirs.push(d);
  return d;
}

const comparison = async (url: string): Promise<Comparison> => (await (await fetch(`${url}/v1/models/stories260K/comparison?window=300`)).json()) as Comparison;
const requestsOf = (c: Comparison, id: string) => c.variants.find((v) => v.id === id)!.latency.requests;

describe('two gateway apps on one database', () => {
  it('each sees both gateways\' traffic with exact counts, and the benchmark either one ran', async () => {
    const dir = await tempDir();
    const { db, close } = await openLibsql(`file:${join(dir, 'shared.db')}`);
    const original = await loadModel(STORIES);
    const servers: ServerType[] = [];
    const urls: string[] = [];
    for (const name of ['gw-a', 'gw-b']) {
      const pool = new ModelPool({ session: { threads: 1 } });
      pool.add('stories260K', original, { parent: null, method: 'original' });
      pool.add(VARIANT, withoutBlock(original, 2), { parent: 'stories260K', method: 'shortgpt' });
      const app = createApp({ pool, maxRequestBytes: 1 << 20, log: () => undefined, summaries: new SummaryRecorder(dbSummaryStore(db), name), benchmarks: dbBenchmarkStore(db) });
      const server: ServerType = await new Promise((ok) => {
        const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => ok(s));
      });
      servers.push(server);
      urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
    try {
      const [a, b] = urls.map((u) => new OpenAI({ baseURL: `${u}/v1`, apiKey: 'unused', maxRetries: 0 }));
      for (let i = 0; i < 4; i++) await a.completions.create({ model: 'stories260K', prompt: `Sam ${i}`, max_tokens: 5, temperature: 0 });
      for (let i = 0; i < 3; i++) await b.completions.create({ model: 'stories260K', prompt: `Sue ${i}`, max_tokens: 5, temperature: 0 });
      for (let i = 0; i < 2; i++) await b.completions.create({ model: VARIANT, prompt: `Ann ${i}`, max_tokens: 5, temperature: 0 });
      // reading a comparison writes the reader's own minutes: read A first, then B sees both
      expect(requestsOf(await comparison(urls[0]), 'stories260K')).toBe(4);
      const viaB = await comparison(urls[1]);
      expect(requestsOf(viaB, 'stories260K')).toBe(7);
      expect(requestsOf(viaB, VARIANT)).toBe(2);
      expect(viaB.variants[0].latency.e2e.n).toBe(7);
      expect(new Set((await readSummaries(db, ['stories260K'], 0)).map((r) => r.gateway))).toEqual(new Set(['gw-a', 'gw-b']));

      const bench = await fetch(`${urls[0]}/v1/models/stories260K/benchmark`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: 2, concurrency: 1, max_tokens: 4 }) });
      expect(bench.status).toBe(200);
      const result = await bench.json();
      expect((result as { schedule: string[] }).schedule).toEqual(['stories260K×1', `${VARIANT}×1`, `${VARIANT}×1`, 'stories260K×1']);
      expect((await comparison(urls[1])).matched_workload).toEqual(result);
      // the benchmark's requests are not organic traffic
      expect(requestsOf(await comparison(urls[1]), 'stories260K')).toBe(7);
    } finally {
      for (const s of servers) await new Promise((r) => s.close(r));
      close();
    }
  });
});

/** Starts `src/server.ts` as `npm start` does, and resolves with its URL once it listens. */
async function startGatewayProcess(env: Record<string, string>): Promise<{ url: string; child: ChildProcess; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(import.meta.dirname, '../../src/server.ts')], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', FLATGATE_AUTH: 'open', FLATGATE_EMBEDDED_WORKER: 'false', FLATGATE_EMBEDDED_S3_PORT: '0', FLATGATE_THREADS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`gateway did not start: ${log}`)), 60_000);
    child.stdout!.on('data', (d) => {
      log += d;
      const m = log.match(/listening on (http:\/\/[0-9.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.on('exit', (code) => fail(new Error(`gateway exited (${code}): ${log}`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise((done) => {
        child.once('exit', (code) => done(code));
        child.kill('SIGTERM');
      }),
  };
}

describe('gateway processes on one database file', () => {
  it('merge their traffic with exact counts, flush at shutdown, and a new process still shows it all', async () => {
    const shared = `file:${join(await tempDir(), 'shared.db')}`;
    // A writes only when asked for a comparison or when it stops; B every 300 ms
    const [a, b] = await Promise.all([
      startGatewayProcess({ FLATGATE_DATA_DIR: await tempDir(), FLATGATE_DATABASE_URL: shared, FLATGATE_SUMMARY_FLUSH_MS: '600000' }),
      startGatewayProcess({ FLATGATE_DATA_DIR: await tempDir(), FLATGATE_DATABASE_URL: shared, FLATGATE_SUMMARY_FLUSH_MS: '300' }),
    ]);
    const send = async (url: string, n: number, stream = false) => {
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
      for (let i = 0; i < n; i++) {
        if (stream) for await (const _ of await client.completions.create({ model: 'stories260K', prompt: `Max ${i}`, max_tokens: 6, temperature: 0, stream: true })) void _;
        else await client.completions.create({ model: 'stories260K', prompt: `Max ${i}`, max_tokens: 6, temperature: 0 });
      }
    };
    await send(a.url, 5);
    await send(b.url, 3, true);
    let viaA = await comparison(a.url);
    for (let t = 0; t < 100 && requestsOf(viaA, 'stories260K') < 8; t++) {
      await new Promise((r) => setTimeout(r, 100));
      viaA = await comparison(a.url);
    }
    expect(requestsOf(viaA, 'stories260K')).toBe(8);
    expect(viaA.variants[0].mix.output).toEqual({ '1-16': 1 });
    await send(a.url, 2);
    expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);

    const c = await startGatewayProcess({ FLATGATE_DATA_DIR: await tempDir(), FLATGATE_DATABASE_URL: shared });
    const viaC = await comparison(c.url);
    expect(requestsOf(viaC, 'stories260K')).toBe(10);
    expect(viaC.variants[0].latency.e2e.n).toBe(10);
    expect(viaC.variants[0].latency.ttft.n).toBe(10);
    expect(await c.stop()).toBe(0);
  });
});
