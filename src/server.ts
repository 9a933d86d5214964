/**
 * @module The Node entry: the gateway with its embedded defaults (data directory, demo model, libsql
 * database, embedded S3 server when no endpoint is configured, one compression worker process).
 */
import { serve } from '@hono/node-server';
import { mkdir } from 'node:fs/promises';
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { loadModel } from './model/load.ts';
import { ModelPool } from './serving/model-pool.ts';
import { startLocalWorker } from './platform/local-worker.ts';
import { createNodePlatform } from './platform/node.ts';
import type { ChildProcess } from 'node:child_process';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  await mkdir(config.dataDir, { recursive: true });
  const pool = new ModelPool({ session: { threads: config.threads } });
  if (config.demoModel) pool.add(config.demoModelName, await loadModel(config.demoModel));
  const platform = await createNodePlatform(config, { pool });
  const app = createApp({ pool, maxRequestBytes: config.maxRequestBytes, platform });
  let worker: ChildProcess | null = null;
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    console.log(`flatgate listening on http://${config.host}:${info.port} (data: ${config.dataDir}, objects: ${platform.s3.endpoint ?? 'S3'})`);
    if (config.embeddedWorker) {
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      worker = startLocalWorker({ gatewayUrl: `http://${host}:${info.port}`, token: platform.workerToken, s3: platform.s3, env: process.env });
    }
  });
  const stop = () => {
    worker?.kill('SIGTERM');
    server.close(() => void platform.close().finally(() => process.exit(0)));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err instanceof ConfigError || err instanceof Error ? `flatgate: ${err.message}` : err);
  process.exit(1);
});
