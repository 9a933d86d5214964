/**
 * @module The Node entry: the gateway with its embedded defaults (data directory, demo model, libsql
 * database, embedded S3 server when no endpoint is configured, one compression worker process).
 */
import { serve } from '@hono/node-server';
import { mkdir } from 'node:fs/promises';
import { ensureLocalAdminKey } from './access/keys.ts';
import { createApp } from './app.ts';
import type { AuthConfig } from './routes/auth.ts';
import { dbSummaryStore } from './db/queries/request-summaries.ts';
import { HttpBenchmarkStore } from './platform/http-benchmark-store.ts';
import { HttpSummaryStore } from './platform/http-summary-store.ts';
import { SummaryRecorder } from './serving/summaries.ts';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { MetricsStore } from './serving/metrics.ts';
import { ConfigError, loadConfig } from './config.ts';
import { loadModel } from './model/load.ts';
import { ModelPool } from './serving/model-pool.ts';
import { startLocalWorker } from './platform/local-worker.ts';
import { createNodePlatform } from './platform/node.ts';
import type { ChildProcess } from 'node:child_process';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  await mkdir(config.dataDir, { recursive: true });
  const pool = new ModelPool({
    session: { threads: config.threads, spinning: config.threadSpinning },
    limits: { concurrency: config.maxBatch, queue: config.queueDepth },
    maxKvBytes: config.kvCacheBytes,
    maxResidentBytes: config.modelMemoryBytes || undefined,
  });
  if (config.demoModel) pool.add(config.demoModelName, await loadModel(config.demoModel));
  const platform = await createNodePlatform(config, { pool });
  const open = config.authMode === 'open' || process.argv.includes('--open');
  if (!open && !config.adminKey) {
    const key = await ensureLocalAdminKey(platform.db);
    if (key) console.log(`\nflatgate made an admin API key for this gateway. It is shown once; keep it:\n\n  ${key}\n\nSend it as 'Authorization: Bearer <key>'; make more with 'npx flatgate keys create'.\n`);
  }
  const auth: AuthConfig = open ? { mode: 'open' } : { mode: 'keys', adminKey: config.adminKey, db: platform.db };
  if (open) console.log('flatgate: open mode, no API keys required (local use only)');
  const metrics = new MetricsStore();
  // one id per process: each gateway is the only writer of its summary rows, so a flush is a plain replace.
  // A serving node without a share of the database (a Cloudflare container) keeps them, and its
  // benchmarks, where it names.
  const storeUrl = config.comparisonStoreUrl;
  const summaryStore = storeUrl ? new HttpSummaryStore(storeUrl, platform.workerToken) : dbSummaryStore(platform.db);
  const benchmarks = storeUrl ? new HttpBenchmarkStore(storeUrl, platform.workerToken) : undefined;
  const summaries = new SummaryRecorder(summaryStore, `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`, config.summaryRetentionMs);
  summaries.start(config.summaryFlushMs, (msg, err) => console.error(`flatgate: ${msg}`, err));
  const app = createApp({ pool, maxRequestBytes: config.maxRequestBytes, platform, auth, router: platform.router, metrics, summaries, benchmarks, ensureServed: (id) => platform.serving.ensure(id) });
  let worker: ChildProcess | null = null;
  let stopping = false;
  let restarts = 0;
  // the embedded worker is supervised: if it dies, jobs would wait forever, so it comes back (with backoff)
  const superviseWorker = (gatewayUrl: string) => {
    const started = Date.now();
    worker = startLocalWorker({ gatewayUrl, token: platform.workerToken, s3: platform.s3, env: process.env, threads: config.workerThreads });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      restarts = Date.now() - started > 60_000 ? 0 : restarts + 1;
      const delay = Math.min(30_000, 1000 * 2 ** restarts);
      console.error(`flatgate: the embedded worker exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000} s`);
      setTimeout(() => !stopping && superviseWorker(gatewayUrl), delay);
    });
  };
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    console.log(`flatgate listening on http://${config.host}:${info.port} (data: ${config.dataDir}, objects: ${platform.s3.endpoint ?? 'S3'})`);
    if (config.embeddedWorker) {
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      superviseWorker(`http://${host}:${info.port}`);
    }
  });
  const stop = () => {
    stopping = true;
    const child = worker;
    const exited = child && child.exitCode === null && child.signalCode === null ? new Promise((done) => child.once('exit', done)) : Promise.resolve();
    child?.kill('SIGTERM');
    // the last summaries are written once in-flight requests have finished
    const flush = () => summaries.stop().catch((err) => console.error('flatgate: cannot flush request summaries', err));
    server.close(() => void Promise.all([exited, flush()]).then(() => platform.close()).finally(() => process.exit(0)));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err instanceof ConfigError || err instanceof Error ? `flatgate: ${err.message}` : err);
  process.exit(1);
});
