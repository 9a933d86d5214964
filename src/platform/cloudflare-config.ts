/**
 * @module The Worker's configuration from its vars and secrets (the same `FLATGATE_*` names as the Node
 * entry's `loadConfig`, which cannot run in a Worker: it reads node:os and node:path for Node-only
 * defaults). Node-only settings (port, data dir, demo model, threads, embedded S3/worker) are inert here.
 */
import type { Config } from '../config.ts';

/** Thrown when the Worker's vars are invalid; one message lists every bad key. */
export class WorkerConfigError extends Error {
  override name = 'WorkerConfigError';
}

/**
 * Parses the Worker's string vars. `FLATGATE_WORKER_TOKEN` (a secret) is required: without it no
 * compression worker could ever authenticate.
 * @example const config = workerConfig({ FLATGATE_WORKER_TOKEN: 'secret', FLATGATE_S3_BUCKET: 'flatgate' });
 */
export function workerConfig(raw: Record<string, unknown>): Readonly<Config> {
  const problems: string[] = [];
  const str = (key: string): string | undefined => (typeof raw[key] === 'string' && raw[key] !== '' ? (raw[key] as string) : undefined);
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const v = str(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}=${JSON.stringify(v)} must be an integer in [${min}, ${max}]`);
      return fallback;
    }
    return n;
  };
  const workerToken = str('FLATGATE_WORKER_TOKEN') ?? null;
  if (!workerToken) problems.push('FLATGATE_WORKER_TOKEN must be set (wrangler secret put FLATGATE_WORKER_TOKEN)');
  const uploadsPrefix = str('FLATGATE_UPLOADS_PREFIX') ?? 'uploads/';
  if (uploadsPrefix.startsWith('models/') || uploadsPrefix.startsWith('tmp/')) problems.push(`FLATGATE_UPLOADS_PREFIX=${JSON.stringify(uploadsPrefix)} must not lie under models/ or tmp/`);
  const auth = str('FLATGATE_AUTH') ?? 'keys';
  if (auth !== 'keys' && auth !== 'open') problems.push(`FLATGATE_AUTH=${JSON.stringify(auth)} must be keys or open`);
  const adminKey = str('FLATGATE_ADMIN_KEY') ?? null;
  if (adminKey !== null && adminKey.length < 16) problems.push('FLATGATE_ADMIN_KEY must be at least 16 characters');
  const config: Config = {
    port: 0,
    host: '',
    dataDir: '',
    demoModel: null,
    demoModelName: '',
    threads: 1,
    workerThreads: 1,
    threadSpinning: false,
    maxBatch: 8,
    queueDepth: 64,
    kvCacheBytes: 2 ** 30,
    // the Worker serves no model
    modelMemoryBytes: 0,
    maxRequestBytes: int('FLATGATE_MAX_REQUEST_BYTES', 1 << 20, 1024, 1 << 30),
    s3: {
      endpoint: str('FLATGATE_S3_ENDPOINT') ?? null,
      region: str('FLATGATE_S3_REGION') ?? 'auto',
      bucket: str('FLATGATE_S3_BUCKET') ?? 'flatgate',
      accessKeyId: '',
      secretAccessKey: '',
      forcePathStyle: true,
      embeddedPort: 0,
      credentialsSet: true,
    },
    databaseUrl: 'd1:DB',
    databaseAuthToken: null,
    workerToken,
    embeddedWorker: false,
    gatewayUrl: null,
    workerId: 'cloudflare',
    taskDataDir: '',
    // a Worker reads at most 100 MB of request body (500 MB on Enterprise); larger models go to the bucket
    maxUploadBytes: int('FLATGATE_MAX_UPLOAD_BYTES', 100 * 10 ** 6, 1024, Number.MAX_SAFE_INTEGER),
    maxExtractedBytes: 0, // the Worker extracts nothing
    uploadsPrefix,
    authMode: auth === 'open' ? 'open' : 'keys',
    adminKey,
    // the Worker polls nothing: it reads D1 on every request
    statePollMs: 0,
    // no start-up in a Worker: nothing sweeps there (the Node gateway or a cron would)
    sweepGraceMs: 3_600_000,
    sweepBucket: false,
    presignedExpirySeconds: int('FLATGATE_PRESIGNED_EXPIRY_S', 86_400, 1, 7 * 86_400),
    // the Worker serves no inference, so it records no summaries and runs no benchmarks: it is the store its
    // serving containers write them to and read them from (routes/summaries.ts, routes/benchmarks.ts, D1),
    // and it sweeps and compacts summaries when they ask
    summaryFlushMs: 10_000,
    summaryRetentionMs: 192 * 3_600_000,
    // its containers get FLATGATE_COMPARISON_STORE_URL from their Durable Object (serving-container.ts)
    comparisonStoreUrl: null,
    jobs: {
      leaseMs: int('FLATGATE_JOB_LEASE_MS', 60_000, 100, 86_400_000),
      maxAttempts: int('FLATGATE_JOB_MAX_ATTEMPTS', 3, 1, 100),
      retryBaseMs: int('FLATGATE_JOB_RETRY_BASE_MS', 5_000, 0, 86_400_000),
    },
  };
  if (problems.length) throw new WorkerConfigError(`Invalid Worker vars: ${problems.join('; ')}`);
  return Object.freeze(config);
}
