/**
 * @module Presigned multipart uploads of large archives: the gateway starts the upload and signs its
 * parts; the client PUTs them straight to the bucket and then calls complete, which validates the
 * object (streamed back from the bucket) exactly as an HTTP upload and registers the model.
 */
import { FlatgateError, InvalidRequest } from '../errors.ts';
import { closeUpload, findOpenUpload, insertUpload, type UploadRow } from '../db/queries/uploads.ts';
import { stagingPrefix } from '../storage/layout.ts';
import { abortMultipart, completeMultipart, presignMultipart, type PresignedMultipart } from '../storage/presigned-upload.ts';
import { assertNameFree, checkParams, type IntakeDeps } from './intake.ts';
import type { CompressionParams } from './params.ts';
import { reservation } from './upload-quota.ts';
import { receiveUpload, UploadTooLarge, type AcceptedUpload } from './upload-intake.ts';

/** An unknown or closed presigned upload. */
export class UploadNotFound extends FlatgateError {
  constructor(id: string) {
    super(`No open upload '${id}'`, 'upload_not_found', 'not_found_error', 'upload_id');
  }
}

/** Default presigned upload lifetime (IntakeDeps.presignedExpirySeconds overrides it). */
export const DEFAULT_PRESIGNED_EXPIRY_S = 24 * 3600;

/** A presigned upload completed after its expiry: it is aborted and its parts discarded. */
export class UploadExpired extends FlatgateError {
  readonly status = 410;
  constructor(id: string) {
    super(`The upload '${id}' expired before it was completed; start a new one`, 'upload_expired', 'invalid_request_error', 'upload_id');
  }
}

/**
 * Starts a presigned multipart upload of `size` bytes for model `name`.
 * @example const { id, parts } = await startPresignedUpload(deps, 'llama', 7e9, params);
 */
export async function startPresignedUpload(
  deps: IntakeDeps,
  name: string,
  size: number,
  params: CompressionParams,
  owner: string | null = null,
  quotaKeyId: string | null = null,
): Promise<PresignedMultipart & { id: string; expiresAt: number }> {
  if (!Number.isInteger(size) || size < 1) throw new InvalidRequest('size must be a positive integer (bytes)', 'size');
  if (size > deps.maxUploadBytes) throw new UploadTooLarge(deps.maxUploadBytes);
  await assertNameFree(deps, name, owner);
  const id = `upl_${crypto.randomUUID().replace(/-/g, '').slice(0, 20)}`;
  const key = `${stagingPrefix(`presigned-${id}`)}upload.tar`;
  const expiresS = deps.presignedExpirySeconds ?? DEFAULT_PRESIGNED_EXPIRY_S;
  const up = await presignMultipart(deps.store, key, size, { expiresIn: expiresS });
  const now = Date.now();
  await insertUpload(deps.db, { id, name, key, s3UploadId: up.uploadId, size, params, owner, quotaKeyId, createdAt: now, expiresAt: now + expiresS * 1000 });
  return { ...up, id, expiresAt: now + expiresS * 1000 };
}

/**
 * Completes the upload from the parts' ETags, validates the object and registers the model; on a bad
 * archive the object is deleted.
 */
export async function completePresignedUpload(
  deps: IntakeDeps,
  id: string,
  parts: { partNumber: number; etag: string }[],
  canComplete: (owner: string | null) => boolean = () => true,
): Promise<AcceptedUpload> {
  const row = await findOpenUpload(deps.db, id);
  if (!row || !canComplete(row.owner)) throw new UploadNotFound(id);
  if (row.expiresAt <= Date.now()) {
    await abortExpiredUpload(deps, row);
    throw new UploadExpired(id);
  }
  if (!(await closeUpload(deps.db, id, 'completed'))) throw new UploadNotFound(id);
  // the quota was reserved for the declared size when the upload started
  const quota = row.quotaKeyId ? reservation(deps.db, row.quotaKeyId, row.size) : null;
  try {
    await completeMultipart(deps.store, row.key, row.s3UploadId, parts).catch((err) => {
      throw new InvalidRequest(`The bucket refused to complete the upload: ${(err as Error).message}`, 'parts');
    });
    const head = await deps.store.head(row.key);
    if (!head) throw new InvalidRequest('The completed upload is not in the bucket', 'parts');
    if (head.size > deps.maxUploadBytes) throw new UploadTooLarge(deps.maxUploadBytes);
    // part URLs do not bound part sizes: hold the client to the size it declared (and was granted quota for)
    if (head.size > row.size) throw new InvalidRequest(`The upload has ${head.size} bytes, more than the ${row.size} declared`, 'size');
    const body = await deps.store.get(row.key);
    const u = await receiveUpload(deps, row.name, checkParams(row.params) as CompressionParams, body, { storedAt: row.key, owner: row.owner });
    await quota?.settle(u.bytes);
    return u;
  } catch (err) {
    await quota?.release();
    await abortMultipart(deps.store, row.key, row.s3UploadId);
    await deps.store.deleteKeys([row.key]).catch(() => undefined);
    throw err;
  }
}

/** Aborts an open upload past its expiry: its multipart upload, any object, and its row (as `aborted`). */
export async function abortExpiredUpload(deps: Pick<IntakeDeps, 'db' | 'store'>, row: UploadRow): Promise<boolean> {
  if (!(await closeUpload(deps.db, row.id, 'aborted'))) return false;
  await abortMultipart(deps.store, row.key, row.s3UploadId);
  await deps.store.deleteKeys([row.key]).catch(() => undefined);
  return true;
}
