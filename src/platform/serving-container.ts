/**
 * @module The Durable Object class that Cloudflare Containers require: one instance per serving
 * container (the Node gateway image, infra/gateway.Dockerfile), started on first request and proxied to
 * on its port 8080. The container is reachable only through this object, so it runs without keys: the
 * Worker authenticates every request before forwarding it.
 */
import type { DurableObjectState } from '@cloudflare/workers-types/latest/index.ts';
import type { CloudflareBindings } from './cloudflare.ts';

/** The port the gateway image listens on. */
const PORT = 8080;
/** How long a cold container may take to start listening. */
const START_TIMEOUT_MS = 120_000;

/**
 * Settings handed to the container's gateway: R2 through the S3 API, no keys, no embedded worker, and
 * the Worker as its comparison store (summaries and benchmarks). `workerUrl` is where the container
 * reaches the Worker: the FLATGATE_COMPARISON_STORE_URL var when set (a custom domain, local dev), else
 * the origin the request that started the container came in on.
 */
export function containerEnv(env: CloudflareBindings, workerUrl: string): Record<string, string> {
  // the container's own database knows none of D1's models: it must never sweep the shared bucket
  const out: Record<string, string> = { FLATGATE_AUTH: 'open', FLATGATE_EMBEDDED_WORKER: 'false', FLATGATE_SWEEP_BUCKET: 'false', HOST: '0.0.0.0', PORT: String(PORT) };
  // the worker token lets the Worker tell the container which variants to serve (/v1/worker/serve), and
  // the container write its request summaries and benchmarks to D1 through the Worker
  // (/v1/worker/summaries, /v1/worker/benchmarks): a local file would show one container's and be gone
  // with the container's disk
  for (const key of ['FLATGATE_WORKER_TOKEN', 'FLATGATE_S3_ENDPOINT', 'FLATGATE_S3_BUCKET', 'FLATGATE_S3_REGION', 'FLATGATE_S3_ACCESS_KEY_ID', 'FLATGATE_S3_SECRET_ACCESS_KEY', 'FLATGATE_THREADS', 'FLATGATE_SUMMARY_FLUSH_MS', 'FLATGATE_SUMMARY_RETENTION_HOURS']) {
    if (typeof env[key] === 'string' && env[key]) out[key] = env[key] as string;
  }
  const store = env.FLATGATE_COMPARISON_STORE_URL;
  out.FLATGATE_COMPARISON_STORE_URL = typeof store === 'string' && store ? store : workerUrl;
  return out;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * A serving container. Bound as `SERVING` in wrangler.toml, declared under `[[containers]]`.
 * @example const res = await env.SERVING.get(env.SERVING.idFromName('serving-0')).fetch(request);
 */
export class ServingContainer {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: CloudflareBindings,
  ) {}

  /** Starts the container if needed and forwards `req` to it, retrying while it boots. */
  async fetch(req: Request): Promise<Response> {
    const container = this.ctx.container;
    if (!container) return Response.json({ error: { message: 'This Durable Object has no container', type: 'server_error', param: null, code: 'no_container' } }, { status: 503 });
    if (!container.running) container.start({ env: containerEnv(this.env, new URL(req.url).origin), enableInternet: true });
    // a booting container refuses connections: keep the body so the request can be sent again
    const body = req.method === 'GET' || req.method === 'HEAD' ? null : await req.arrayBuffer();
    const port = container.getTcpPort(PORT) as unknown as { fetch(req: Request): Promise<Response> };
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        return await port.fetch(new Request(req.url, { method: req.method, headers: req.headers, body, signal: req.signal }));
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(500);
      }
    }
  }
}
