/**
 * @module The one place that reads the environment. Every variable is one row of {@link SETTINGS} (name,
 * default, description, parser); `loadConfig` parses every row in one pass and fails at boot with one
 * message listing every bad key, and the README's table of variables is generated from the same rows
 * (`npm run docs:env`; src/config.test.ts fails when they drift).
 */
import { cpus, hostname, totalmem } from 'node:os';
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
  /**
   * Budget of the served models of one gateway (FLATGATE_MODEL_MEMORY_MB; default 60% of the machine's
   * memory, 0: none): above it, least-recently-used idle models are unloaded until the next request.
   */
  modelMemoryBytes: number;
  /** Largest JSON request body, in bytes. */
  maxRequestBytes: number;
  /** Object storage; `endpoint: null` runs the embedded S3 server on 127.0.0.1 under `dataDir/s3`. */
  s3: S3Settings & {
    /** Port of the embedded S3 server (0: any free port; a taken one is replaced by a free one). */
    embeddedPort: number;
    /**
     * Whether FLATGATE_S3_ACCESS_KEY_ID and _SECRET_ACCESS_KEY were both set: the embedded store then
     * requires exactly those; otherwise it makes a pair once and keeps it in `dataDir`.
     */
    credentialsSet: boolean;
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
  /** Folder with the zero-shot task files (default: the bundled subsets in `fixtures/tasks`). */
  taskDataDir: string;
  /** Largest model upload, in bytes. */
  maxUploadBytes: number;
  /** Most bytes an upload may extract to (the compression ratio is capped too, in the archive reader). */
  maxExtractedBytes: number;
  /** Object keys under this prefix start a compression job when they land in the bucket. */
  uploadsPrefix: string;
  /**
   * `keys` (default): every API route needs a Bearer key. `open`: no keys, everyone acts as the operator
   * (local experiments only; `npm start -- --open` sets it too).
   */
  authMode: 'keys' | 'open';
  /** The operator's admin key; when absent, the local gateway makes one at first start and prints it once. */
  adminKey: string | null;
  /** How often a gateway polls the database's serving-state version (models, variants, routes), in ms. */
  statePollMs: number;
  /**
   * Age after which the start-up sweep removes staging objects, multipart uploads and model objects whose
   * owner it cannot tell is gone (another host may still be writing them), in ms.
   */
  sweepGraceMs: number;
  /**
   * Whether the start-up sweep also cleans the bucket (staging, multipart uploads, objects of deleted
   * models). Only a gateway whose database is the bucket's truth may: the Cloudflare serving containers,
   * which keep their own database, turn it off.
   */
  sweepBucket: boolean;
  /** Lifetime of presigned multipart uploads, in seconds. */
  presignedExpirySeconds: number;
  /** How often a gateway writes its per-minute request summaries to the database, and how long they are kept. */
  summaryFlushMs: number;
  summaryRetentionMs: number;
  /**
   * Where this gateway keeps its comparison data (request summaries and matched-workload benchmarks) when
   * it has no share of the database: the base URL of a gateway or the Cloudflare Worker whose
   * `/v1/worker/summaries` and `/v1/worker/benchmarks` endpoints (worker token) store them (the serving
   * containers get the Worker's). Null: this gateway's own database.
   */
  comparisonStoreUrl: string | null;
  /** Job queue: lease length, attempts before dead letter, first retry delay (doubles each time). */
  jobs: { leaseMs: number; maxAttempts: number; retryBaseMs: number };
}

/** Thrown at boot when the environment is invalid. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const fixture = (path: string) => fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url));
const DEMO_MODEL = fixture('models/stories260K/stories260K.bin');
/** The bundled zero-shot task subsets (first 500 items of each; fixtures/tasks/NOTICE). */
export const BUNDLED_TASK_DATA_DIR = fixture('tasks');

/** Who reads a variable: the gateway (`npm start`), a compression worker (`flatgate worker`), or both. */
export type Reader = 'gateway' | 'worker' | 'gateway, worker';

/** One environment variable: its name, documented default, description, and how its text becomes a value. */
export interface Setting<T> {
  name: string;
  /** The default as the README shows it (Markdown). */
  default: string;
  description: string;
  readers: Reader;
  /** The value of `raw` (undefined or '' when unset); a bad value pushes one line onto `problems`. */
  parse(raw: string | undefined, problems: string[]): T;
}

const unset = (v: string | undefined): v is undefined => v === undefined || v === '';

function int(name: string, fallback: number, min: number, max: number, readers: Reader, description: string, shown = String(fallback)): Setting<number> {
  return {
    name, default: shown, description, readers,
    parse(v, problems) {
      if (unset(v)) return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        problems.push(`${name}=${JSON.stringify(v)} must be an integer in [${min}, ${max}]`);
        return fallback;
      }
      return n;
    },
  };
}

function flag(name: string, fallback: boolean, readers: Reader, description: string): Setting<boolean> {
  return {
    name, default: String(fallback), description, readers,
    parse(v, problems) {
      if (unset(v)) return fallback;
      const low = v.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(low)) return true;
      if (['0', 'false', 'no', 'off'].includes(low)) return false;
      problems.push(`${name}=${JSON.stringify(v)} must be true or false`);
      return fallback;
    },
  };
}

function text<F extends string | null>(name: string, fallback: F, readers: Reader, description: string, shown?: string): Setting<string | F> {
  return { name, default: shown ?? (fallback === null ? '(none)' : `\`${fallback}\``), description, readers, parse: (v) => (unset(v) ? fallback : v) };
}

function custom<T>(name: string, shown: string, readers: Reader, description: string, parse: Setting<T>['parse']): Setting<T> {
  return { name, default: shown, description, readers, parse };
}

/** Every environment variable the gateway and a compression worker read, in README order. */
export const SETTINGS = {
  port: int('PORT', 8080, 0, 65535, 'gateway', 'HTTP port of the gateway.'),
  host: text('HOST', '127.0.0.1', 'gateway', 'Address the gateway listens on (`0.0.0.0` in the images).'),
  dataDir: custom('FLATGATE_DATA_DIR', '`./data`', 'gateway', 'The embedded object store, the database and the model cache live here.', (v) => resolve(unset(v) ? './data' : v)),
  demoModel: custom<string | null>('FLATGATE_DEMO_MODEL', '`fixtures/models/stories260K/stories260K.bin`', 'gateway', 'Model served at start (any path `loadModel` reads); `none` for none.', (v) => (v === 'none' ? null : unset(v) ? DEMO_MODEL : v)),
  demoModelName: text('FLATGATE_DEMO_MODEL_NAME', 'stories260K', 'gateway', 'Name the demo model is served under.'),
  threads: int('FLATGATE_THREADS', cpus().length, 1, 1024, 'gateway, worker', 'onnxruntime intra-op threads per serving session (inter-op threads are always 1).', 'the number of CPUs'),
  workerThreads: int('FLATGATE_WORKER_THREADS', Math.max(1, Math.floor(cpus().length / 2)), 1, 1024, 'gateway', 'Intra-op threads of the embedded compression worker\'s sessions (inter-op threads are always 1): what the worker takes from the serving sessions while a job runs.', 'half the CPUs'),
  threadSpinning: flag('FLATGATE_THREAD_SPINNING', false, 'gateway, worker', 'Let idle onnxruntime threads spin before sleeping: less wake-up latency on a dedicated machine, but spinning threads of one session steal the cores of other variants and the worker.'),
  maxBatch: int('FLATGATE_MAX_BATCH', 8, 1, 256, 'gateway', 'Per served variant: requests decoded together in one batch (continuous batching).'),
  queueDepth: int('FLATGATE_QUEUE_DEPTH', 64, 0, 100_000, 'gateway', 'Per served variant: requests that wait beyond the batch before a 429.'),
  kvCacheBytes: custom('FLATGATE_KV_CACHE_MB', '1024', 'gateway', 'Per served variant: KV-cache memory in MiB; the batch gets as many rows (at most FLATGATE_MAX_BATCH) as fit with every row at the model\'s full context.', (v, problems) => int('FLATGATE_KV_CACHE_MB', 1024, 1, 1 << 20, 'gateway', '').parse(v, problems) * 2 ** 20),
  modelMemoryBytes: custom('FLATGATE_MODEL_MEMORY_MB', '60% of the machine\'s memory', 'gateway', 'Budget of the served models (weights and engine sessions, estimated at 12 bytes a parameter); above it the least-recently-used idle models are unloaded until their next request. 0: no budget.', (v, problems) =>
    unset(v) ? Math.floor(0.6 * totalmem()) : int('FLATGATE_MODEL_MEMORY_MB', 0, 0, 1 << 30, 'gateway', '').parse(v, problems) * 2 ** 20),
  maxRequestBytes: int('FLATGATE_MAX_REQUEST_BYTES', 1 << 20, 1024, 1 << 30, 'gateway', 'Largest JSON request body, in bytes.'),
  s3Endpoint: text('FLATGATE_S3_ENDPOINT', null, 'gateway, worker', 'S3-compatible endpoint; unset: the gateway runs an embedded S3 server under `FLATGATE_DATA_DIR/s3` (a worker needs it set).', '(embedded)'),
  s3Region: text('FLATGATE_S3_REGION', 'us-east-1', 'gateway, worker', 'Region of the bucket.'),
  s3Bucket: text('FLATGATE_S3_BUCKET', 'flatgate', 'gateway, worker', 'Bucket holding uploads and published variants.'),
  s3AccessKeyId: text('FLATGATE_S3_ACCESS_KEY_ID', 'S3RVER', 'gateway, worker', 'S3 credentials. With the embedded store, set both to make it require exactly this pair; unset, it makes a pair once and keeps it in `FLATGATE_DATA_DIR/s3-credentials.json` (mode 0600).', '(embedded: made once)'),
  s3SecretAccessKey: text('FLATGATE_S3_SECRET_ACCESS_KEY', 'S3RVER', 'gateway, worker', 'The secret of that pair.', '(embedded: made once)'),
  s3ForcePathStyle: flag('FLATGATE_S3_FORCE_PATH_STYLE', true, 'gateway, worker', 'Path-style bucket URLs (`false` for virtual-hosted AWS S3).'),
  embeddedS3Port: int('FLATGATE_EMBEDDED_S3_PORT', 4568, 0, 65535, 'gateway', 'Port of the embedded S3 server (0: any free port).'),
  databaseUrl: text('FLATGATE_DATABASE_URL', '', 'gateway', 'libsql URL of the database.', '`file:<FLATGATE_DATA_DIR>/flatgate.db`'),
  databaseAuthToken: text('FLATGATE_DATABASE_AUTH_TOKEN', null, 'gateway', 'Auth token of a remote libsql database.'),
  workerToken: text('FLATGATE_WORKER_TOKEN', null, 'gateway, worker', 'Bearer token compression workers present; unset: the gateway makes one for its embedded worker.'),
  embeddedWorker: flag('FLATGATE_EMBEDDED_WORKER', true, 'gateway', 'Run one compression worker beside the gateway (a child process).'),
  gatewayUrl: text('FLATGATE_GATEWAY_URL', null, 'worker', 'The gateway a worker pulls jobs from (`--gateway` overrides).'),
  workerId: text('FLATGATE_WORKER_ID', '', 'worker', 'A worker\'s id in job leases.', '`<hostname>-<pid>`'),
  taskDataDir: custom('FLATGATE_TASK_DATA_DIR', '`fixtures/tasks` (bundled, first 500 items of each task)', 'worker', 'Folder with the zero-shot task files (PIQA, ARC, WinoGrande, HellaSwag, BoolQ; layout of `fixtures/tasks`); point it at full datasets. `flatgate eval --data-dir` overrides.', (v) => (unset(v) ? BUNDLED_TASK_DATA_DIR : resolve(v))),
  maxUploadBytes: int('FLATGATE_MAX_UPLOAD_BYTES', 64 * 2 ** 30, 1024, Number.MAX_SAFE_INTEGER, 'gateway', 'Largest model upload, in bytes.', '68719476736 (64 GiB)'),
  maxExtractedBytes: int('FLATGATE_MAX_EXTRACTED_BYTES', 96 * 2 ** 30, 1024, Number.MAX_SAFE_INTEGER, 'gateway, worker', 'Most bytes an uploaded archive may extract to (its compression ratio is capped at 20 too).', '103079215104 (96 GiB)'),
  uploadsPrefix: custom('FLATGATE_UPLOADS_PREFIX', '`uploads/`', 'gateway', 'Objects landing under this prefix start a compression job (not under `models/` or `tmp/`).', (v, problems) => {
    const prefix = unset(v) ? 'uploads/' : v;
    if (prefix.startsWith('models/') || prefix.startsWith('tmp/')) problems.push(`FLATGATE_UPLOADS_PREFIX=${JSON.stringify(prefix)} must not lie under models/ or tmp/`);
    return prefix;
  }),
  authMode: custom<'keys' | 'open'>('FLATGATE_AUTH', '`keys`', 'gateway', '`keys`: every API route needs a Bearer key; `open`: no keys (local experiments; `npm start -- --open`).', (v, problems) => {
    if (!unset(v) && v !== 'open' && v !== 'keys') problems.push(`FLATGATE_AUTH=${JSON.stringify(v)} must be keys or open`);
    return v === 'open' ? 'open' : 'keys';
  }),
  adminKey: custom<string | null>('FLATGATE_ADMIN_KEY', '(made at first start, printed once)', 'gateway', 'The operator\'s admin key (at least 16 characters).', (v, problems) => {
    if (!unset(v) && v.length < 16) problems.push('FLATGATE_ADMIN_KEY must be at least 16 characters');
    return unset(v) ? null : v;
  }),
  statePollMs: int('FLATGATE_STATE_POLL_MS', 1000, 50, 600_000, 'gateway', 'How often a gateway polls the database\'s serving-state version (models, variants, routes), in ms: the most a change made through another gateway takes to show here.'),
  sweepGraceMs: int('FLATGATE_SWEEP_GRACE_MS', 3_600_000, 0, 30 * 86_400_000, 'gateway', 'Age after which the start-up sweep removes staging objects, multipart uploads and model objects no row accounts for (ms).'),
  sweepBucket: flag('FLATGATE_SWEEP_BUCKET', true, 'gateway', 'Let the start-up sweep clean the bucket (only where this database is the bucket\'s truth; the Cloudflare serving containers turn it off).'),
  presignedExpirySeconds: int('FLATGATE_PRESIGNED_EXPIRY_S', 86_400, 1, 7 * 86_400, 'gateway', 'Lifetime of presigned multipart uploads, in seconds (also enforced on completion).'),
  summaryFlushMs: int('FLATGATE_SUMMARY_FLUSH_MS', 10_000, 100, 3_600_000, 'gateway', 'How often a gateway writes its per-minute request summaries (the comparison\'s data) to the database, in ms.'),
  summaryRetentionMs: custom('FLATGATE_SUMMARY_RETENTION_HOURS', '192 (8 days)', 'gateway', 'How long request summaries are kept, in hours (at least 25, so the 24 h window is whole).', (v, problems) => int('FLATGATE_SUMMARY_RETENTION_HOURS', 192, 25, 24 * 366, 'gateway', '').parse(v, problems) * 3_600_000),
  comparisonStoreUrl: custom<string | null>('FLATGATE_COMPARISON_STORE_URL', '(none: this gateway\'s database)', 'gateway', 'Base URL of the gateway or Cloudflare Worker that keeps this gateway\'s comparison data, its request summaries and matched-workload benchmarks (its `/v1/worker/summaries` and `/v1/worker/benchmarks` endpoints, with `FLATGATE_WORKER_TOKEN`), for serving nodes without a share of the database. The Cloudflare serving containers get the Worker\'s URL: this var on the Worker when set, else the origin of the request that started the container.', (v, problems) => {
    if (unset(v)) return null;
    let url: URL | null = null;
    try {
      url = new URL(v);
    } catch {
      // reported below
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) problems.push(`FLATGATE_COMPARISON_STORE_URL=${JSON.stringify(v)} must be an http(s) URL`);
    return v;
  }),
  jobLeaseMs: int('FLATGATE_JOB_LEASE_MS', 60_000, 100, 86_400_000, 'gateway', 'A worker\'s lease on a job, renewed by heartbeats (ms).'),
  jobMaxAttempts: int('FLATGATE_JOB_MAX_ATTEMPTS', 3, 1, 100, 'gateway', 'Attempts before a job is dead-lettered and its model marked failed.'),
  jobRetryBaseMs: int('FLATGATE_JOB_RETRY_BASE_MS', 5_000, 0, 86_400_000, 'gateway', 'Delay before the first retry (ms; doubles each time).'),
} satisfies Record<string, Setting<unknown>>;

/** Variables only the Cloudflare Worker reads (from its bindings, besides the `FLATGATE_*` above). */
export const CLOUDFLARE_SETTINGS: readonly Pick<Setting<unknown>, 'name' | 'default' | 'description'>[] = [
  { name: 'SERVING_URL', default: '(none)', description: 'Cloudflare only: a serving gateway to forward inference to instead of the `SERVING` container binding.' },
  { name: 'SERVING_INSTANCES', default: '1', description: 'Cloudflare only: serving containers to spread requests over.' },
];

type Values = { [K in keyof typeof SETTINGS]: ReturnType<(typeof SETTINGS)[K]['parse']> };

/**
 * Builds the config from environment variables.
 * @example const config = loadConfig(process.env);
 */
export function loadConfig(raw: Record<string, string | undefined>): Readonly<Config> {
  const problems: string[] = [];
  const v = Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [k, s.parse(raw[s.name], problems)])) as Values;
  // the comparison store's endpoints take the worker token; a made-up one would never match the store's
  if (v.comparisonStoreUrl && !v.workerToken) problems.push('FLATGATE_COMPARISON_STORE_URL needs FLATGATE_WORKER_TOKEN (the token of the gateway or Worker it names)');
  if (problems.length) throw new ConfigError(`Invalid environment: ${problems.join('; ')}`);
  return Object.freeze({
    port: v.port,
    host: v.host,
    dataDir: v.dataDir,
    demoModel: v.demoModel,
    demoModelName: v.demoModelName,
    threads: v.threads,
    workerThreads: v.workerThreads,
    threadSpinning: v.threadSpinning,
    maxBatch: v.maxBatch,
    queueDepth: v.queueDepth,
    kvCacheBytes: v.kvCacheBytes,
    modelMemoryBytes: v.modelMemoryBytes,
    maxRequestBytes: v.maxRequestBytes,
    s3: {
      endpoint: v.s3Endpoint,
      region: v.s3Region,
      bucket: v.s3Bucket,
      accessKeyId: v.s3AccessKeyId,
      secretAccessKey: v.s3SecretAccessKey,
      credentialsSet: Boolean(raw.FLATGATE_S3_ACCESS_KEY_ID && raw.FLATGATE_S3_SECRET_ACCESS_KEY),
      forcePathStyle: v.s3ForcePathStyle,
      embeddedPort: v.embeddedS3Port,
    },
    databaseUrl: v.databaseUrl || `file:${join(v.dataDir, 'flatgate.db')}`,
    databaseAuthToken: v.databaseAuthToken,
    workerToken: v.workerToken,
    embeddedWorker: v.embeddedWorker,
    gatewayUrl: v.gatewayUrl,
    workerId: v.workerId || `${hostname()}-${process.pid}`,
    taskDataDir: v.taskDataDir,
    maxUploadBytes: v.maxUploadBytes,
    maxExtractedBytes: v.maxExtractedBytes,
    uploadsPrefix: v.uploadsPrefix,
    authMode: v.authMode,
    adminKey: v.adminKey,
    statePollMs: v.statePollMs,
    sweepGraceMs: v.sweepGraceMs,
    sweepBucket: v.sweepBucket,
    presignedExpirySeconds: v.presignedExpirySeconds,
    summaryFlushMs: v.summaryFlushMs,
    summaryRetentionMs: v.summaryRetentionMs,
    comparisonStoreUrl: v.comparisonStoreUrl,
    jobs: { leaseMs: v.jobLeaseMs, maxAttempts: v.jobMaxAttempts, retryBaseMs: v.jobRetryBaseMs },
  });
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** The README's table of environment variables (Markdown), generated from {@link SETTINGS}. */
export function envTableMarkdown(): string {
  const rows = [
    ...Object.values(SETTINGS).map((s) => [s.name, s.default, s.readers, s.description]),
    ...CLOUDFLARE_SETTINGS.map((s) => [s.name, s.default, 'Cloudflare Worker', s.description]),
  ];
  return ['| variable | default | read by | what |', '|---|---|---|---|', ...rows.map(([n, d, r, w]) => `| \`${n}\` | ${cell(d)} | ${r} | ${cell(w)} |`)].join('\n');
}

const ENV_BEGIN = '<!-- env:begin (generated from src/config.ts by `npm run docs:env`; do not edit) -->';
const ENV_END = '<!-- env:end -->';

/** `readme` with the text between the env markers replaced by {@link envTableMarkdown}; throws without markers. */
export function withEnvTable(readme: string): string {
  const a = readme.indexOf(ENV_BEGIN);
  const b = readme.indexOf(ENV_END);
  if (a < 0 || b < a) throw new Error(`README.md has no "${ENV_BEGIN}" ... "${ENV_END}" block`);
  return `${readme.slice(0, a + ENV_BEGIN.length)}\n${envTableMarkdown()}\n${readme.slice(b)}`;
}
