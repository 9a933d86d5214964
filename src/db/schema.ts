/**
 * @module The database schema (drizzle, SQLite dialect: libsql locally, D1 on Cloudflare). Times are
 * epoch milliseconds; JSON columns hold small objects (job parameters, evaluations).
 */
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** Uploaded models. `name` is what clients call the original (`<name>`) and prefixes its variants. */
export const models = sqliteTable('models', {
  id: text().primaryKey(),
  name: text().notNull().unique(),
  status: text({ enum: ['pending', 'ready', 'failed'] }).notNull().default('pending'),
  sourceBucket: text().notNull(),
  sourceKey: text().notNull(),
  sourceEtag: text(),
  sha256: text(),
  bytes: integer().notNull().default(0),
  /** The owner of the API key that uploaded it; null for models the operator serves to everyone. */
  owner: text(),
  /** The verdict's criteria for this model's variants (null: the defaults). */
  criteria: text({ mode: 'json' }).$type<ModelCriteria>(),
  createdAt: integer().notNull(),
});

/**
 * Every model name ever taken, and whose it is ('' for the operator). A name stays with its first owner
 * after the model is deleted, so nobody inherits another owner's routes, metrics or clients.
 */
export const modelNames = sqliteTable('model_names', {
  name: text().primaryKey(),
  owner: text().notNull(),
  createdAt: integer().notNull(),
});

/** The evaluation of one variant. */
export interface VariantEvaluation {
  ppl: number | null;
  tasks: Record<string, unknown>;
  agreement: Record<string, unknown>;
  /** Prefill throughput of the job's perplexity pass (the verdict's "measurably faster"). */
  speed?: { tokens_per_s: number; tokens: number; seconds: number } | null;
}

/** What a model's compressed variants are held to (null columns: the defaults). */
export interface ModelCriteria {
  max_ppl_ratio?: number;
  min_agreement?: number;
  max_task_drop?: number | null;
}

/** Served forms of a model: the original and each compressed one. `id` is the served model id. */
export const variants = sqliteTable(
  'variants',
  {
    id: text().primaryKey(),
    modelId: text()
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    method: text().notNull(),
    layers: integer().notNull(),
    params: integer().notNull(),
    bytes: integer().notNull(),
    status: text({ enum: ['pending', 'ready', 'failed'] }).notNull().default('pending'),
    prefix: text().notNull(),
    evaluation: text({ mode: 'json' }).$type<VariantEvaluation>(),
    report: text({ mode: 'json' }).$type<Record<string, unknown>>(),
    createdAt: integer().notNull(),
  },
  (t) => [uniqueIndex('variants_model_name').on(t.modelId, t.name)],
);

/** The compression queue. A job is claimed with a lease; an expired lease returns it to the queue. */
export const jobs = sqliteTable(
  'jobs',
  {
    id: text().primaryKey(),
    modelId: text()
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    status: text({ enum: ['queued', 'running', 'done', 'failed'] }).notNull().default('queued'),
    stage: text().notNull().default('queued'),
    progress: real().notNull().default(0),
    attempts: integer().notNull().default(0),
    maxAttempts: integer().notNull(),
    leaseOwner: text(),
    leaseExpiresAt: integer(),
    runAfter: integer().notNull().default(0),
    error: text(),
    idempotencyKey: text().notNull().unique(),
    params: text({ mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    sourceBucket: text().notNull(),
    sourceKey: text().notNull(),
    createdAt: integer().notNull(),
    updatedAt: integer().notNull(),
    finishedAt: integer(),
  },
  (t) => [index('jobs_claim').on(t.status, t.runAfter), index('jobs_model').on(t.modelId)],
);

/** Presigned multipart uploads in progress (the client uploads straight to the bucket). */
export const uploads = sqliteTable('uploads', {
  id: text().primaryKey(),
  name: text().notNull(),
  key: text().notNull(),
  s3UploadId: text().notNull(),
  size: integer().notNull(),
  params: text({ mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  /** Owner of the key that started the upload (null: the operator). */
  owner: text(),
  /** The key whose upload quota holds `size` bytes for this upload (null: no quota). */
  quotaKeyId: text(),
  status: text({ enum: ['open', 'completed', 'aborted'] }).notNull().default('open'),
  createdAt: integer().notNull(),
  expiresAt: integer().notNull(),
});

/**
 * Per-minute request summaries, one row per (gateway, minute, variant, measure): a count, a sum and, for
 * latency-like measures, a DDSketch (protobuf, base64). Each gateway replaces its own rows as the minute
 * fills; readers merge every gateway's rows. Old minutes are swept.
 */
export const requestSummaries = sqliteTable(
  'request_summaries',
  {
    gateway: text().notNull(),
    /** Unix ms of the minute's start. */
    minute: integer().notNull(),
    variant: text().notNull(),
    measure: text().notNull(),
    count: integer().notNull(),
    sum: real().notNull(),
    sketch: text(),
    updatedAt: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.gateway, t.minute, t.variant, t.measure] }), index('request_summaries_variant_minute').on(t.variant, t.minute), index('request_summaries_minute').on(t.minute)],
);

/** Matched-workload benchmarks (`POST /v1/models/:id/benchmark`): the same interleaved load on each variant. */
export const benchmarkResults = sqliteTable(
  'benchmark_results',
  {
    id: text().primaryKey(),
    /** The original's served id (the family). */
    model: text().notNull(),
    createdAt: integer().notNull(),
    result: text({ mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  },
  (t) => [index('benchmark_results_model_time').on(t.model, t.createdAt)],
);

/** API keys, stored as SHA-256 hashes. Scopes: inference, upload, admin. */
export const apiKeys = sqliteTable('api_keys', {
  id: text().primaryKey(),
  /** Who the key acts for: models it uploads belong to this owner. */
  owner: text().notNull(),
  name: text().notNull(),
  hash: text().notNull().unique(),
  /** The first characters of the key, to recognise it in listings. */
  prefix: text().notNull(),
  scopes: text({ mode: 'json' }).$type<string[]>().notNull(),
  /** Requests per minute (0: unlimited). */
  rateLimit: integer().notNull().default(0),
  /** Bytes this key may upload in all (0: unlimited), and bytes uploaded so far. */
  uploadQuota: integer().notNull().default(0),
  uploadedBytes: integer().notNull().default(0),
  createdAt: integer().notNull(),
  revokedAt: integer(),
});

/** A/B routes: a model name's split between its variants, and its shadow share. */
export const abRoutes = sqliteTable('ab_routes', {
  model: text().primaryKey(),
  arms: text({ mode: 'json' }).$type<{ variant: string; weight: number }[]>().notNull(),
  shadowRate: real().notNull().default(0),
  updatedAt: integer().notNull(),
});

/** Why a model name's route is what it is, when auto-promotion set it (the arms live in ab_routes). */
export const routePromotions = sqliteTable('route_promotions', {
  model: text().primaryKey(),
  /** The variant that takes the traffic (the original when none is acceptable). */
  chosen: text().notNull(),
  reasons: text({ mode: 'json' }).$type<string[]>().notNull(),
  updatedAt: integer().notNull(),
});
