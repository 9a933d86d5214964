/**
 * @module The Cloudflare platform: D1 through drizzle, R2 through its binding, the same DB-backed job
 * queue and intake as Node, built once per Worker `env` object. Inference is not here: it runs in the
 * serving containers (see serving-forward.ts).
 */
import type { D1Database, DurableObjectNamespace, Queue, R2Bucket } from '@cloudflare/workers-types/latest/index.ts';
import { drizzle } from 'drizzle-orm/d1';
import { schema, type Db } from '../db/client.ts';
import type { IntakeDeps } from '../jobs/intake.ts';
import { discardPublished } from '../jobs/discard-published.ts';
import { JobQueue } from '../jobs/queue.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { R2ObjectStore } from '../storage/r2-object-store.ts';
import type { SharedAppEnv } from '../app-env.ts';
import { workerConfig } from './cloudflare-config.ts';
import { servingForward, ServingUnavailable, type ServingForward } from './serving-forward.ts';
import type { Platform } from './types.ts';

/** The Worker's bindings (wrangler.toml) and its vars and secrets (`FLATGATE_*`, `SERVING_*`). */
export interface CloudflareBindings {
  DB: D1Database;
  BUCKET: R2Bucket;
  /** Producer on the upload-events queue (replays, and local dev where R2 sends no notifications). */
  UPLOAD_EVENTS?: Queue<unknown>;
  /** Durable Objects fronting the serving containers. */
  SERVING?: DurableObjectNamespace;
  /** A serving gateway reached over HTTP instead of the containers (dev, tests, another host). */
  SERVING_URL?: string;
  /** How many serving containers share the models (each model sticks to one). */
  SERVING_INSTANCES?: string;
  [name: string]: unknown;
}

/** The platform plus what only the Worker's own routes use. */
export interface CloudflarePlatform extends Platform {
  /** The bucket as R2 (streamed uploads). */
  objects: R2ObjectStore;
  /** Producer on the upload-events queue, when bound. */
  uploadEvents: Queue<unknown> | null;
  /** Sends inference requests to the serving containers (or SERVING_URL). */
  serving: ServingForward;
}

/** The Hono environment of the Worker app: the shared variables (no model pool: the Worker never holds one) plus the Cloudflare platform. */
export interface CloudflareAppEnv {
  Bindings: CloudflareBindings;
  Variables: SharedAppEnv['Variables'] & { cloudflare: CloudflarePlatform };
}

const platforms = new WeakMap<object, CloudflarePlatform>();

/**
 * The platform of `env`, built on first use and cached for as long as the isolate keeps that env.
 * @example const platform = cloudflarePlatform(c.env);
 */
export function cloudflarePlatform(env: CloudflareBindings): CloudflarePlatform {
  let platform = platforms.get(env);
  if (!platform) {
    platform = buildPlatform(env);
    platforms.set(env, platform);
  }
  return platform;
}

function buildPlatform(env: CloudflareBindings): CloudflarePlatform {
  const config = workerConfig(env);
  const db = drizzle(env.DB, { schema, casing: 'snake_case' }) as unknown as Db;
  const objects = new R2ObjectStore(env.BUCKET, config.s3.bucket);
  // intake and the job routes call only the R2 store's subset of ObjectStore (head, bucket, list, delete)
  const store = objects as Pick<ObjectStore, keyof R2ObjectStore & keyof ObjectStore> as ObjectStore;
  const queue = new JobQueue(db, config.jobs);
  // a job that failed for good leaves no published objects behind
  queue.onGiveUp((job) => discardPublished(store, job.modelId, job.id));
  const intake: IntakeDeps = { db, store, queue, uploadsPrefix: config.uploadsPrefix, maxUploadBytes: config.maxUploadBytes, presignedExpirySeconds: config.presignedExpirySeconds };
  return {
    config,
    db,
    store,
    objects,
    queue,
    intake,
    uploadEvents: env.UPLOAD_EVENTS ?? null,
    serving: servingForward(env),
    workerToken: config.workerToken!,
    // the Worker keeps nothing in memory: every request reads D1
    servingChanged: async () => undefined,
    serveVariant: () => {
      throw new ServingUnavailable();
    },
    serveRoute: () => Promise.reject(new ServingUnavailable()),
    close: async () => undefined,
  };
}
