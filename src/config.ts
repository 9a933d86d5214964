/**
 * @module The one place that reads the environment. `loadConfig` parses, validates and applies defaults
 * in one pass and fails at boot with one message listing every bad key.
 */
import { cpus, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Settings } from './storage/object-store.ts';

/** The gateway's configuration. */
export interface Config {
  port: number;
  host: string;
  /** Embedded object store, database and model cache live here. */
  dataDir: string;
  /** The demo model served at start (a path loadModel understands), or null for none. */
  demoModel: string | null;
  /** Name under which the demo model is served. */
  demoModelName: string;
  /**
   * onnxruntime intra-op threads per session (FLATGATE_THREADS, default all cores). Each served variant
   * has one session; inter-op threads are always 1. Idle sessions do not spin (see `threadSpinning`), so
   * variants that are not busy cost no CPU; for strict isolation from the embedded worker set
   * FLATGATE_THREADS + FLATGATE_WORKER_THREADS <= cores.
   */
  threads: number;
  /** Intra-op threads of the embedded compression worker's sessions (FLATGATE_WORKER_THREADS, default half the cores). */
  workerThreads: number;
  /**
   * Let idle onnxruntime threads spin before sleeping (FLATGATE_THREAD_SPINNING, default false). Spinning
   * shaves wake-up latency off each operator on a dedicated machine, but spinning threads of one session
   * steal the cores of another variant or of the worker.
   */
  threadSpinning: boolean;
  /** Per served variant: requests decoded together in one batch (FLATGATE_MAX_BATCH, default 8). */
  maxBatch: number;
  /** Per served variant: requests that wait beyond the batch before 429 (FLATGATE_QUEUE_DEPTH, default 64). */
  queueDepth: number;
  /**
   * Per served variant: the most KV-cache memory its batch may hold (FLATGATE_KV_CACHE_MB, default 1024).
   * The batch gets as many rows (at most FLATGATE_MAX_BATCH) as fit with every row at the model's full
   * context; other admitted requests wait for a row.
   */
  kvCacheBytes: number;
  /** Largest JSON request body, in bytes. */
  maxRequestBytes: number;
  /** Object storage; `endpoint: null` runs the embedded S3 server on 127.0.0.1 under `dataDir/s3`. */
  s3: S3Settings & {
    /** Port of the embedded S3 server (0: any free port). */
    embeddedPort: number;
  };
  /** libsql URL of the database (default: a file in `dataDir`). */
  databaseUrl: string;
  databaseAuthToken: string | null;
  /** Bearer token compression workers present; null: the gateway makes one for its embedded worker. */
  workerToken: string | null;
  /** Run one compression worker beside the gateway (a child process). */
  embeddedWorker: boolean;
  /** For a compression worker: the gateway it pulls jobs from, and its id. */
  gatewayUrl: string | null;
  workerId: string;
  /** Largest model upload, in bytes. */
  maxUploadBytes: number;
  /** Object keys under this prefix start a compression job when they land in the bucket. */
  uploadsPrefix: string;
  /**
   * `keys` (default): every API route needs a Bearer key. `open`: no keys, everyone acts as the operator
   * (local experiments only; `npm start -- --open` sets it too).
   */
  authMode: 'keys' | 'open';
  /** The operator's admin key; when absent, the local gateway makes one at first start and prints it once. */
  adminKey: string | null;
  /** Job queue: lease length, attempts before dead letter, first retry delay (doubles each time). */
  jobs: { leaseMs: number; maxAttempts: number; retryBaseMs: number };
}

/** Thrown at boot when the environment is invalid. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DEMO_MODEL = fileURLToPath(new URL('../fixtures/models/stories260K/stories260K.bin', import.meta.url));

/**
 * Builds the config from environment variables.
 * @example const config = loadConfig(process.env);
 */
export function loadConfig(raw: Record<string, string | undefined>): Readonly<Config> {
  const problems: string[] = [];
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const v = raw[key];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}=${JSON.stringify(v)} must be an integer in [${min}, ${max}]`);
      return fallback;
    }
    return n;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const v = raw[key]?.toLowerCase();
    if (v === undefined || v === '') return fallback;
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    problems.push(`${key}=${JSON.stringify(raw[key])} must be true or false`);
    return fallback;
  };
  const config: Config = {
    port: int('PORT', 8080, 0, 65535),
    host: raw.HOST || '127.0.0.1',
    dataDir: resolve(raw.FLATGATE_DATA_DIR || './data'),
    demoModel: raw.FLATGATE_DEMO_MODEL === 'none' ? null : raw.FLATGATE_DEMO_MODEL || DEMO_MODEL,
    demoModelName: raw.FLATGATE_DEMO_MODEL_NAME || 'stories260K',
    threads: int('FLATGATE_THREADS', cpus().length, 1, 1024),
    workerThreads: int('FLATGATE_WORKER_THREADS', Math.max(1, Math.floor(cpus().length / 2)), 1, 1024),
    threadSpinning: flag('FLATGATE_THREAD_SPINNING', false),
    maxBatch: int('FLATGATE_MAX_BATCH', 8, 1, 256),
    queueDepth: int('FLATGATE_QUEUE_DEPTH', 64, 0, 100_000),
    kvCacheBytes: int('FLATGATE_KV_CACHE_MB', 1024, 1, 1 << 20) * 2 ** 20,
    maxRequestBytes: int('FLATGATE_MAX_REQUEST_BYTES', 1 << 20, 1024, 1 << 30),
    s3: {
      endpoint: raw.FLATGATE_S3_ENDPOINT || null,
      region: raw.FLATGATE_S3_REGION || 'us-east-1',
      bucket: raw.FLATGATE_S3_BUCKET || 'flatgate',
      accessKeyId: raw.FLATGATE_S3_ACCESS_KEY_ID || 'S3RVER',
      secretAccessKey: raw.FLATGATE_S3_SECRET_ACCESS_KEY || 'S3RVER',
      forcePathStyle: flag('FLATGATE_S3_FORCE_PATH_STYLE', true),
      embeddedPort: int('FLATGATE_EMBEDDED_S3_PORT', 4568, 0, 65535),
    },
    databaseUrl: raw.FLATGATE_DATABASE_URL || '',
    databaseAuthToken: raw.FLATGATE_DATABASE_AUTH_TOKEN || null,
    workerToken: raw.FLATGATE_WORKER_TOKEN || null,
    embeddedWorker: flag('FLATGATE_EMBEDDED_WORKER', true),
    gatewayUrl: raw.FLATGATE_GATEWAY_URL || null,
    workerId: raw.FLATGATE_WORKER_ID || `${hostname()}-${process.pid}`,
    maxUploadBytes: int('FLATGATE_MAX_UPLOAD_BYTES', 64 * 2 ** 30, 1024, Number.MAX_SAFE_INTEGER),
    uploadsPrefix: raw.FLATGATE_UPLOADS_PREFIX || 'uploads/',
    authMode: raw.FLATGATE_AUTH === 'open' ? 'open' : 'keys',
    adminKey: raw.FLATGATE_ADMIN_KEY || null,
    jobs: {
      leaseMs: int('FLATGATE_JOB_LEASE_MS', 60_000, 100, 86_400_000),
      maxAttempts: int('FLATGATE_JOB_MAX_ATTEMPTS', 3, 1, 100),
      retryBaseMs: int('FLATGATE_JOB_RETRY_BASE_MS', 5_000, 0, 86_400_000),
    },
  };
  config.databaseUrl ||= `file:${join(config.dataDir, 'flatgate.db')}`;
  if (config.uploadsPrefix.startsWith('models/') || config.uploadsPrefix.startsWith('tmp/')) {
    problems.push(`FLATGATE_UPLOADS_PREFIX=${JSON.stringify(config.uploadsPrefix)} must not lie under models/ or tmp/`);
  }
  if (raw.FLATGATE_AUTH && raw.FLATGATE_AUTH !== 'open' && raw.FLATGATE_AUTH !== 'keys') problems.push(`FLATGATE_AUTH=${JSON.stringify(raw.FLATGATE_AUTH)} must be keys or open`);
  if (config.adminKey !== null && config.adminKey.length < 16) problems.push('FLATGATE_ADMIN_KEY must be at least 16 characters');
  if (problems.length) throw new ConfigError(`Invalid environment: ${problems.join('; ')}`);
  return Object.freeze(config);
}
