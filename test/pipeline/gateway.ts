/**
 * @module A real gateway for the pipeline tests: libsql file DB and embedded S3 server under a fresh
 * temp data dir, served on a free port; workers are real child processes.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { startLocalWorker } from '../../src/platform/local-worker.ts';
import { createNodePlatform, type NodePlatform } from '../../src/platform/node.ts';
import type { AuthConfig } from '../../src/routes/auth.ts';
import { ModelPool } from '../../src/serving/model-pool.ts';

export const TOKEN = 'test-worker-token';

/** A running test gateway. */
export interface TestGateway {
  url: string;
  dataDir: string;
  platform: NodePlatform;
  pool: ModelPool;
  workers: ChildProcess[];
  /** Stops the gateway and its workers but keeps the data directory (to start again on it). */
  stop(): Promise<void>;
  /** Starts a worker process; its output is collected in `logs`. */
  startWorker(id: string, args?: string[]): ChildProcess;
  logs: string[];
  close(): Promise<void>;
}

/** Starts a gateway with `env` overrides (no embedded worker: tests start their own). */
export async function startTestGateway(
  env: Record<string, string> = {},
  opts: { auth?: (platform: NodePlatform) => AuthConfig; dataDir?: string; log?: (msg: string, err?: unknown) => void } = {},
): Promise<TestGateway> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'fg-gw-')));
  const config = loadConfig({
    FLATGATE_DATA_DIR: dataDir,
    FLATGATE_DEMO_MODEL: 'none',
    FLATGATE_EMBEDDED_S3_PORT: '0',
    FLATGATE_WORKER_TOKEN: TOKEN,
    FLATGATE_THREADS: '1',
    FLATGATE_EMBEDDED_WORKER: 'false',
    ...env,
  });
  const pool = new ModelPool({ session: { threads: 1 } });
  const platform = await createNodePlatform(config, { pool, log: () => undefined });
  const app = createApp({
    pool,
    maxRequestBytes: config.maxRequestBytes,
    platform,
    log: opts.log ?? (() => undefined),
    auth: opts.auth?.(platform),
    router: platform.router,
    ensureServed: (id) => platform.serving.ensure(id),
  });
  const server: ServerType = await new Promise((ok) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => ok(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const workers: ChildProcess[] = [];
  const logs: string[] = [];
  const gateway: TestGateway = {
    url,
    dataDir,
    platform,
    pool,
    workers,
    logs,
    startWorker(id, args = []) {
      const child = startLocalWorker({
        gatewayUrl: url,
        token: TOKEN,
        s3: platform.s3,
        workerId: id,
        threads: 1,
        dataDir,
        args: ['--poll-ms', '100', ...args],
        stdio: 'pipe',
        env: { PATH: process.env.PATH },
      });
      child.stdout?.on('data', (d) => logs.push(`[${id}] ${d}`));
      child.stderr?.on('data', (d) => logs.push(`[${id}!] ${d}`));
      workers.push(child);
      return child;
    },
    async stop() {
      for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
      await Promise.all(workers.map((w) => (w.exitCode === null && w.signalCode === null ? new Promise((r) => w.once('exit', r)) : null)));
      await new Promise((r) => server.close(r));
      await platform.close();
    },
    async close() {
      await gateway.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return gateway;
}

/** Polls `GET /v1/jobs/:id` until `done(job)` or the timeout. */
export async function waitForJob(url: string, id: string, done: (j: JobView) => boolean, timeoutMs = 60_000): Promise<JobView> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const j = (await (await fetch(`${url}/v1/jobs/${id}`)).json()) as JobView;
    if (done(j)) return j;
    if (Date.now() > end) throw new Error(`job ${id} did not get there in time: ${JSON.stringify(j)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** GET /v1/jobs/:id */
export interface JobView {
  id: string;
  model_id: string;
  status: 'queued' | 'running' | 'done' | 'failed';
  stage: string;
  progress: number;
  attempts: number;
  error: string | null;
}
