/**
 * @module The Node platform: a libsql database (migrated at start), the object store (the configured S3
 * endpoint, or an embedded S3 server on 127.0.0.1 whose upload events feed the intake), the job queue,
 * and the serving state (variants and A/B routes) mirrored from the database into the pool.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import { openLibsql } from '../db/open-libsql.ts';
import { abRouteStore } from '../db/queries/ab-routes.ts';
import { intakeCreatedObjects } from '../jobs/event-intake.ts';
import type { IntakeDeps } from '../jobs/intake.ts';
import { discardPublished } from '../jobs/discard-published.ts';
import { JobQueue } from '../jobs/queue.ts';
import { registerVariant } from '../jobs/serve-variants.ts';
import { ServingState } from '../jobs/serving-state.ts';
import { sweepLeftovers, type SweepReport } from '../jobs/sweep.ts';
import { AbRouter } from '../serving/ab-router.ts';
import type { ModelPool } from '../serving/model-pool.ts';
import { embeddedCredentials } from '../storage/embedded-credentials.ts';
import { startEmbeddedS3, type EmbeddedS3 } from '../storage/embedded-s3.ts';
import { ObjectStore, type S3Settings } from '../storage/object-store.ts';
import { createdObjects } from '../storage/s3-events.ts';
import type { Platform } from './types.ts';

/** The Node platform plus what the entry needs to start a local worker. */
export interface NodePlatform extends Platform {
  /** S3 settings a worker process should use (the embedded endpoint when there is one). */
  s3: S3Settings;
  /** A/B routes, mirrored from the database (writes go to the database first). */
  router: AbRouter;
  /** The database's serving state mirrored into the pool and router (polled). */
  serving: ServingState;
  /** The start-up sweep, running beside serving (it lists the bucket; a cold start does not wait for it). */
  swept: Promise<SweepReport | null>;
}

/**
 * Opens the database, starts or connects the object store, and mirrors the serving state (then keeps
 * polling it).
 * @example const platform = await createNodePlatform(loadConfig(process.env), { pool });
 */
export async function createNodePlatform(config: Readonly<Config>, opts: { pool: ModelPool; router?: AbRouter; log?: (msg: string, err?: unknown) => void }): Promise<NodePlatform> {
  const log = opts.log ?? ((msg, err) => console.error(msg, err ?? ''));
  const { db, close: closeDb } = await openLibsql(config.databaseUrl, config.databaseAuthToken);
  let embedded: EmbeddedS3 | null = null;
  const s3: S3Settings = { ...config.s3 };
  if (!config.s3.endpoint) {
    const configured = config.s3.credentialsSet ? { accessKeyId: config.s3.accessKeyId, secretAccessKey: config.s3.secretAccessKey } : null;
    const credentials = await embeddedCredentials(config.dataDir, configured);
    embedded = await startEmbeddedS3({
      directory: join(config.dataDir, 's3'),
      bucket: config.s3.bucket,
      port: config.s3.embeddedPort,
      credentials,
      log: (msg) => console.log(msg),
    });
    Object.assign(s3, credentials);
    s3.endpoint = embedded.endpoint;
    s3.forcePathStyle = true;
  }
  const store = new ObjectStore(s3);
  const queue = new JobQueue(db, config.jobs);
  // a job that failed for good leaves no published objects behind
  queue.onGiveUp((job) => discardPublished(store, job.modelId, job.id));
  const intake: IntakeDeps = {
    db,
    store,
    queue,
    uploadsPrefix: config.uploadsPrefix,
    maxUploadBytes: config.maxUploadBytes,
    maxExtractedBytes: config.maxExtractedBytes,
    dataDir: config.dataDir,
    presignedExpirySeconds: config.presignedExpirySeconds,
    // what the entry serves from outside the bucket (the demo model) keeps its name
    reservedName: (name) => (config.demoModel !== null && name === config.demoModelName) || (opts.pool.has(name) && opts.pool.get(name).info.source === undefined),
  };
  if (embedded) {
    embedded.onEvent((event) => {
      intakeCreatedObjects(intake, createdObjects(event, false)).catch((err) => log('bucket event intake failed', err));
    });
  }
  const cacheDir = join(config.dataDir, 'cache');
  const router = opts.router ?? new AbRouter(abRouteStore(db));
  const serving = new ServingState({ db, store, pool: opts.pool, router, cacheDir, pollMs: config.statePollMs, log });
  const platform: NodePlatform = {
    config,
    db,
    store,
    queue,
    intake,
    s3,
    workerToken: config.workerToken ?? randomBytes(24).toString('base64url'),
    router,
    serving,
    servingChanged: async (removed = []) => {
      // also what was added in-process under those ids (not mirrored from the database)
      for (const id of removed) void opts.pool.remove(id);
      // the write is committed: a failed reload must not fail it (the next poll catches up)
      await serving.reload().catch((err) => log('flatgate: reloading the serving state failed', err));
    },
    serveVariant: (v) => registerVariant({ store, pool: opts.pool, cacheDir }, v, 'announced'),
    serveRoute: async (model, route) => {
      if (route) await router.set({ model, ...route });
      else await router.delete(model);
    },
    swept: Promise.resolve(null),
    close: async () => {
      serving.stop();
      await platform.swept;
      await embedded?.close();
      closeDb();
    },
  };
  await serving.reload();
  serving.start();
  // it removes only what no live process or row accounts for, so it can run while this gateway serves
  platform.swept = sweepLeftovers({ db, store, dataDir: config.dataDir, graceMs: config.sweepGraceMs, bucket: config.sweepBucket, log }).then(
    (swept) => {
      const n = swept.scratch.length + swept.expiredUploads.length + swept.multipartUploads.length + swept.stagingObjects + swept.orphanModels.length;
      if (n > 0) log(`flatgate: start-up sweep removed ${JSON.stringify(swept)}`);
      return swept;
    },
    (err) => {
      log('flatgate: the start-up sweep failed; the next start retries', err);
      return null;
    },
  );
  return platform;
}
