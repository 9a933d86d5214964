/**
 * @module The Node entry: the gateway with its embedded defaults (data directory, demo model).
 */
import { serve } from '@hono/node-server';
import { mkdir } from 'node:fs/promises';
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { loadModel } from './model/load.ts';
import { ModelPool } from './serving/model-pool.ts';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  await mkdir(config.dataDir, { recursive: true });
  const pool = new ModelPool({ session: { threads: config.threads } });
  if (config.demoModel) pool.add(config.demoModelName, await loadModel(config.demoModel));
  const app = createApp({ pool, maxRequestBytes: config.maxRequestBytes });
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    console.log(`flatgate listening on http://${config.host}:${info.port} (data: ${config.dataDir})`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err instanceof ConfigError || err instanceof Error ? `flatgate: ${err.message}` : err);
  process.exit(1);
});
