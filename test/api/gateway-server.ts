/**
 * A real gateway on a loopback port for API tests: stories260K as the original and a compressed variant
 * with one block removed, registered as `stories260K:shortgpt-20`.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createApp } from '../../src/app.ts';
import { loadModel } from '../../src/model/load.ts';
import { countParams, type LoadedModel } from '../../src/model/types.ts';
import type { AuthConfig } from '../../src/routes/auth.ts';
import { AbRouter } from '../../src/serving/ab-router.ts';
import { MetricsStore } from '../../src/serving/metrics.ts';
import { ModelPool, type ModelPoolOptions } from '../../src/serving/model-pool.ts';

export const STORIES = join(import.meta.dirname, '../../fixtures/models/stories260K/stories260K.bin');
export const VARIANT = 'stories260K:shortgpt-20';

/** stories260K without block `drop`: a standard, smaller model of the same architecture. */
export function withoutBlock(loaded: LoadedModel, drop: number): LoadedModel {
  const layers = loaded.model.layers.filter((_, i) => i !== drop);
  return { ...loaded, model: { ...loaded.model, layers, config: { ...loaded.model.config, numLayers: layers.length } } };
}

export interface TestGateway {
  url: string;
  pool: ModelPool;
  metrics: MetricsStore;
  router: AbRouter;
  original: LoadedModel;
  close(): Promise<void>;
}

export async function startGateway(opts: ModelPoolOptions = {}, extra: { auth?: AuthConfig } = {}): Promise<TestGateway> {
  const original = await loadModel(STORIES);
  const variant = withoutBlock(original, 2);
  const pool = new ModelPool({ session: { threads: 1 }, ...opts });
  pool.add('stories260K', original, { parent: null, method: 'original', layers: 5, params: countParams(original.model), evaluation: { ppl: 10 } });
  pool.add(VARIANT, variant, { parent: 'stories260K', method: 'shortgpt', layers: 4, params: countParams(variant.model), evaluation: { ppl: 14 } });
  const metrics = new MetricsStore();
  const router = new AbRouter();
  const app = createApp({ pool, metrics, router, maxRequestBytes: 1 << 20, log: () => {}, auth: extra.auth });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    pool,
    metrics,
    router,
    original,
    // a browser keeps its connections open: end them, or close() waits for them (minutes)
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        (server as import('node:http').Server).closeAllConnections();
      }),
  };
}
