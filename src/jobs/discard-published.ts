/**
 * @module A model whose job failed for good keeps its row (so its owner sees why) and its uploaded
 * archive, but nothing its job published or staged: half-published variants must not linger in the bucket.
 */
import type { ObjectStore } from '../storage/object-store.ts';
import { modelPrefix, originalArchiveKey, STAGING_PREFIX } from '../storage/layout.ts';

/**
 * Deletes every object of `modelId` but its uploaded archive, and the staging objects of `jobId`.
 * @example await discardPublished(store, job.modelId, job.id);
 */
export async function discardPublished(store: ObjectStore, modelId: string, jobId: string): Promise<void> {
  const keep = originalArchiveKey(modelId);
  const published = (await store.list(modelPrefix(modelId))).map((o) => o.key).filter((k) => k !== keep);
  await store.deleteKeys(published);
  await store.deletePrefix(`${STAGING_PREFIX}job-${jobId}-`);
}
