/**
 * @module The single-machine default: one compression worker in a child process (off the gateway's
 * event loop and request path), pulling jobs from the gateway over HTTP like any remote worker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { S3Settings } from '../storage/object-store.ts';

/** The worker entry, run through tsx so the TypeScript sources run as they are. */
export const WORKER_ENTRY = fileURLToPath(new URL('../worker.ts', import.meta.url));

/** glibc malloc settings of the worker process (used unless the environment sets them). */
export const WORKER_MALLOC: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '65536',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

/** What the child needs to know. */
export interface LocalWorkerOptions {
  gatewayUrl: string;
  token: string;
  s3: S3Settings;
  workerId?: string;
  threads?: number;
  /** The data directory (its scratch space); default: the one in `env`. */
  dataDir?: string;
  /** Environment to start from (the gateway's own). */
  env?: Record<string, string | undefined>;
  /** Extra worker arguments (e.g. `--once`). */
  args?: string[];
  stdio?: 'inherit' | 'pipe' | 'ignore';
}

/** The environment of a worker process that reaches `o.s3` and the gateway. */
export function workerEnv(o: LocalWorkerOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.env ?? {})) if (v !== undefined) env[k] = v;
  Object.assign(env, {
    FLATGATE_GATEWAY_URL: o.gatewayUrl,
    FLATGATE_WORKER_TOKEN: o.token,
    FLATGATE_S3_ENDPOINT: o.s3.endpoint ?? '',
    FLATGATE_S3_REGION: o.s3.region,
    FLATGATE_S3_BUCKET: o.s3.bucket,
    FLATGATE_S3_ACCESS_KEY_ID: o.s3.accessKeyId,
    FLATGATE_S3_SECRET_ACCESS_KEY: o.s3.secretAccessKey,
    FLATGATE_S3_FORCE_PATH_STYLE: String(o.s3.forcePathStyle),
    FLATGATE_EMBEDDED_WORKER: 'false',
  });
  // glibc keeps freed memory of many threads' arenas and raises its mmap threshold as large blocks are
  // freed, so a worker that opens and releases engine sessions layer by layer would hold on to freed
  // memory: few arenas, large blocks always mmapped (and returned at once), trim early
  for (const [k, v] of Object.entries(WORKER_MALLOC)) env[k] ??= v;
  if (o.workerId) env.FLATGATE_WORKER_ID = o.workerId;
  if (o.dataDir) env.FLATGATE_DATA_DIR = o.dataDir;
  if (o.threads) env.FLATGATE_THREADS = String(o.threads);
  return env;
}

/**
 * Starts a worker process.
 * @example const child = startLocalWorker({ gatewayUrl: 'http://127.0.0.1:8080', token, s3 });
 */
export function startLocalWorker(o: LocalWorkerOptions): ChildProcess {
  const tsx = import.meta.resolve('tsx');
  const child = spawn(process.execPath, ['--import', tsx, WORKER_ENTRY, ...(o.args ?? [])], {
    env: workerEnv(o),
    // an IPC channel only to notice the gateway's death: when it closes, the worker exits (worker.ts)
    stdio: ['ignore', o.stdio ?? 'inherit', o.stdio ?? 'inherit', 'ipc'],
  });
  // the channel must not keep the gateway's event loop alive on its own
  child.channel?.unref();
  return child;
}
