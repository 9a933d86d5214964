/**
 * @module The database schema (drizzle, SQLite dialect: libsql locally, D1 on Cloudflare). Times are
 * epoch milliseconds; JSON columns hold small objects (job parameters, evaluations).
 */
import { index, integer, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

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

/** One served request, for latency analysis across gateways (written by the Node entry's metrics sink). */
export const requestMetrics = sqliteTable(
  'request_metrics',
  {
    id: text().primaryKey(),
    variantId: text().notNull(),
    modelId: text(),
    endpoint: text().notNull(),
    status: integer().notNull(),
    promptTokens: integer().notNull().default(0),
    completionTokens: integer().notNull().default(0),
    queueMs: real(),
    ttftMs: real(),
    totalMs: real().notNull(),
    abGroup: text(),
    createdAt: integer().notNull(),
  },
  (t) => [index('request_metrics_variant_time').on(t.variantId, t.createdAt)],
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
