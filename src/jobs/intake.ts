/**
 * @module Intake: turns a validated object into a model row and a compression job, idempotently on
 * bucket + key + etag. Shared by HTTP uploads, presigned uploads and bucket events.
 */
import { FlatgateError, InvalidRequest } from '../errors.ts';
import type { Db } from '../db/client.ts';
import type { Job } from '../db/queries/jobs.ts';
import { deleteModel, findModelByName, insertModel, nameReservedFor, reserveName } from '../db/queries/models.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { compressionParamsSchema, criteriaOfParams, type CompressionParams } from './params.ts';
import type { JobQueue } from './queue.ts';

/** What intake needs. */
export interface IntakeDeps {
  db: Db;
  store: ObjectStore;
  queue: JobQueue;
  /** Keys under this prefix start jobs when they land in the bucket. */
  uploadsPrefix: string;
  maxUploadBytes: number;
  /**
   * The data directory whose scratch space HTTP uploads are extracted into (Node; see
   * storage/scratch.ts). The Worker streams uploads to R2 and has none.
   */
  dataDir?: string;
  /** Lifetime of presigned multipart uploads, in seconds (default one day). */
  presignedExpirySeconds?: number;
  /** Most bytes an upload may extract to (default: the upload limit). */
  maxExtractedBytes?: number;
  /** Names no upload may take (what the gateway serves from elsewhere, e.g. the demo model). */
  reservedName?: (name: string) => boolean;
}

/**
 * A model name that cannot be taken. The message is the same whoever holds the name (the uploader, the
 * operator, another owner), so it tells nothing about other owners' models.
 */
export class ModelNameTaken extends FlatgateError {
  readonly status = 409;
  constructor(name: string) {
    super(`The model name '${name}' is not available; choose another`, 'model_exists', 'invalid_request_error', 'name');
  }
}

/** Names are served as `<name>` and `<name>:<variant>`, so they cannot contain ':' or '/'. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Checks a model name. */
export function checkModelName(name: string | undefined): string {
  if (!name) throw new InvalidRequest('name is required (?name=NAME)', 'name');
  if (!NAME.test(name)) throw new InvalidRequest(`name '${name}' must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`, 'name');
  return name;
}

/** Parses compression parameters; the first problem becomes one InvalidRequest. */
export function checkParams(raw: unknown): CompressionParams {
  const r = compressionParamsSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const param = issue.path.join('.') || null;
  throw new InvalidRequest(`Invalid ${param ?? 'parameters'}: ${issue.message}`, param);
}

/** The idempotency key of an object version. */
export const objectJobKey = (bucket: string, key: string, etag: string) => `s3:${bucket}/${key}#${etag}`;

/** A new model id. */
export const newModelId = () => `mdl_${crypto.randomUUID().replace(/-/g, '').slice(0, 20)}`;

/** What {@link registerUpload} records. */
export interface UploadRecord {
  modelId: string;
  name: string;
  key: string;
  etag: string;
  sha256: string | null;
  bytes: number;
  params: CompressionParams;
  /** Owner of the uploading key; null or absent: the operator (served to every key). */
  owner?: string | null;
}

/**
 * Creates the model and its job. Throws ModelNameTaken when the name is used; when the object already
 * has a job (a repeated event), removes the new model row again and returns the existing job.
 */
export async function registerUpload(deps: IntakeDeps, u: UploadRecord): Promise<{ job: Job; created: boolean }> {
  const now = Date.now();
  if (deps.reservedName?.(u.name) || !(await reserveName(deps.db, u.name, u.owner ?? ''))) throw new ModelNameTaken(u.name);
  const inserted = await insertModel(deps.db, {
    id: u.modelId,
    name: u.name,
    status: 'pending',
    sourceBucket: deps.store.bucket,
    sourceKey: u.key,
    sourceEtag: u.etag,
    sha256: u.sha256,
    bytes: u.bytes,
    owner: u.owner ?? null,
    criteria: criteriaOfParams(u.params),
    createdAt: now,
  });
  if (!inserted) throw new ModelNameTaken(u.name);
  try {
    const out = await deps.queue.enqueue({
      id: `job_${crypto.randomUUID().replace(/-/g, '').slice(0, 20)}`,
      modelId: u.modelId,
      idempotencyKey: objectJobKey(deps.store.bucket, u.key, u.etag),
      params: u.params,
      sourceBucket: deps.store.bucket,
      sourceKey: u.key,
    });
    if (!out.created) await deleteModel(deps.db, u.modelId);
    return out;
  } catch (err) {
    await deleteModel(deps.db, u.modelId);
    throw err;
  }
}

/**
 * Fails with ModelNameTaken early, before any bytes are read: the name is reserved, held by another
 * owner (even if their model was deleted), or in use by a live model.
 */
export async function assertNameFree(deps: Pick<IntakeDeps, 'db' | 'reservedName'>, name: string, owner: string | null | undefined): Promise<void> {
  const holder = await nameReservedFor(deps.db, name);
  if (deps.reservedName?.(name) || (holder !== undefined && holder !== (owner ?? '')) || (await findModelByName(deps.db, name))) throw new ModelNameTaken(name);
}
