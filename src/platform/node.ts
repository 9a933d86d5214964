/**
 * @module The Node platform: a libsql database (migrated at start), the object store (the configured S3
 * endpoint, or an embedded S3 server on 127.0.0.1 whose upload events feed the intake), the job queue
 * and the model cache for serving variants.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import { openLibsql } from '../db/open-libsql.ts';
import { readyVariants } from '../db/queries/variants.ts';
import { intakeCreatedObjects } from '../jobs/event-intake.ts';
import type { IntakeDeps } from '../jobs/intake.ts';
import { discardPublished } from '../jobs/discard-published.ts';
import { JobQueue } from '../jobs/queue.ts';
import { registerVariant, serveVariants } from '../jobs/serve-variants.ts';
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
}

/**
 * Opens the database, starts or connects the object store, and serves the variants already ready.
 * @example const platform = await createNodePlatform(loadConfig(process.env), { pool });
 */
export async function createNodePlatform(config: Readonly<Config>, opts: { pool: ModelPool; log?: (msg: string, err?: unknown) => void }): Promise<NodePlatform> {
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
    // what the entry serves from outside the bucket (the demo model) keeps its name
    reservedName: (name) => (config.demoModel !== null && name === config.demoModelName) || (opts.pool.has(name) && opts.pool.get(name).info.source === undefined),
  };
  if (embedded) {
    embedded.onEvent((event) => {
      intakeCreatedObjects(intake, createdObjects(event, false)).catch((err) => log('bucket event intake failed', err));
    });
  }
  const cacheDir = join(config.dataDir, 'cache');
  const platform: NodePlatform = {
    config,
    db,
    store,
    queue,
    intake,
    s3,
    workerToken: config.workerToken ?? randomBytes(24).toString('base64url'),
    serveVariants: (modelId) => serveVariants({ db, store, pool: opts.pool, cacheDir }, modelId),
    serveVariant: (v) => registerVariant({ store, pool: opts.pool, cacheDir }, v),
    close: async () => {
      await embedded?.close();
      closeDb();
    },
  };
  const modelIds = new Set((await readyVariants(db)).map((v) => v.modelId));
  for (const id of modelIds) await platform.serveVariants(id).catch((err) => log(`cannot serve the variants of ${id}`, err));
  return platform;
}
