/**
 * @module Bucket-event intake: each ObjectCreated record under the uploads prefix starts a job, once per
 * object version (bucket + key + etag); pipeline-written objects and other buckets are ignored.
 */
import { findJobByKey, type Job } from '../db/queries/jobs.ts';
import { isCleanKey, isPipelineKey } from '../storage/layout.ts';
import type { CreatedObject } from '../storage/s3-events.ts';
import { assertNameFree, checkParams, newModelId, objectJobKey, registerUpload, type IntakeDeps } from './intake.ts';

/** What happened to one record. */
export type EventOutcome =
  | { key: string; action: 'created' | 'duplicate'; job: Job }
  | { key: string; action: 'ignored'; reason: string };

/** A model name from an object key: its file name without archive extensions, made safe. */
export function nameFromKey(key: string): string {
  const base = key.slice(key.lastIndexOf('/') + 1).replace(/\.(tar\.gz|tgz|tar|gz)$/i, '');
  const safe = base.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 48);
  return safe || 'model';
}

async function freeName(deps: IntakeDeps, base: string, etag: string): Promise<string> {
  const free = (name: string) => assertNameFree(deps, name, null).then(() => true, () => false);
  if (await free(base)) return base;
  const withTag = `${base}-${etag.slice(0, 8)}`;
  if (await free(withTag)) return withTag;
  return `${base}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Starts (at most) one job per created object.
 * @example await intakeCreatedObjects(deps, createdObjects(body));
 */
export async function intakeCreatedObjects(deps: IntakeDeps, objects: CreatedObject[]): Promise<EventOutcome[]> {
  const out: EventOutcome[] = [];
  for (const o of objects) {
    if (o.bucket !== deps.store.bucket) {
      out.push({ key: o.key, action: 'ignored', reason: `bucket '${o.bucket}' is not '${deps.store.bucket}'` });
      continue;
    }
    if (!isCleanKey(o.key)) {
      out.push({ key: o.key, action: 'ignored', reason: "not a plain key ('.', '..' or empty segments, backslashes or control characters)" });
      continue;
    }
    if (isPipelineKey(o.key) || !o.key.startsWith(deps.uploadsPrefix) || o.key.endsWith('/')) {
      out.push({ key: o.key, action: 'ignored', reason: `not under ${deps.uploadsPrefix}` });
      continue;
    }
    const head = await deps.store.head(o.key);
    if (!head) {
      out.push({ key: o.key, action: 'ignored', reason: 'the object no longer exists' });
      continue;
    }
    // the object's identity is what the bucket says now, not what the (replayable) event claims
    const etag = head.etag;
    const existing = await findJobByKey(deps.db, objectJobKey(o.bucket, o.key, etag));
    if (existing) {
      out.push({ key: o.key, action: 'duplicate', job: existing });
      continue;
    }
    if (head.size > deps.maxUploadBytes) {
      out.push({ key: o.key, action: 'ignored', reason: `larger than the upload limit of ${deps.maxUploadBytes} bytes` });
      continue;
    }
    for (let tries = 0; ; tries++) {
      try {
        const name = await freeName(deps, nameFromKey(o.key), etag);
        const r = await registerUpload(deps, { modelId: newModelId(), name, key: o.key, etag, sha256: null, bytes: head.size, params: checkParams({}) });
        out.push({ key: o.key, action: r.created ? 'created' : 'duplicate', job: r.job });
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'model_exists' || tries >= 3) throw err;
      }
    }
  }
  return out;
}
