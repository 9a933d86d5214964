/**
 * @module Model deletion: its rows (A/B route and promotion, comparison summaries and benchmarks, variants,
 * jobs, the model) go in one atomic write, then
 * its objects leave the bucket. A worker still running its job learns at its next heartbeat (410) and
 * removes what it published after this; the start-up sweep removes whatever is left (db/atomic.ts says
 * why this is a batch, not an interactive transaction).
 */
import { eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { atomically } from '../db/atomic.ts';
import { jobsOfModel } from '../db/queries/jobs.ts';
import type { ModelRow } from '../db/queries/models.ts';
import { variantsOfModel } from '../db/queries/variants.ts';
import { abRoutes, benchmarkResults, jobs, models, requestSummaries, routePromotions, variants } from '../db/schema.ts';
import { modelPrefix, STAGING_PREFIX } from '../storage/layout.ts';

/** What {@link deleteModelEverywhere} needs: the database and a store that can delete by prefix. */
export interface DeleteDeps {
  db: Db;
  store: { deletePrefix(prefix: string): Promise<void> };
  log?: (msg: string, err?: unknown) => void;
}

/** Staging prefix of every attempt of job `jobId` (see run-job.ts). */
export const jobStagingPrefix = (jobId: string) => `${STAGING_PREFIX}job-${jobId}-`;

/**
 * Deletes `model`: rows atomically, then objects; returns the ids it was served under. Object deletion failures are logged, not thrown: the
 * rows are gone, so the model is gone, and the sweep finishes the bucket.
 * @example await deleteModelEverywhere({ db, store }, model);
 */
export async function deleteModelEverywhere(deps: DeleteDeps, model: ModelRow): Promise<{ served: string[] }> {
  const { db } = deps;
  const jobIds = (await jobsOfModel(db, model.id)).map((j) => j.id);
  const served = [...new Set([model.name, ...(await variantsOfModel(db, model.id)).map((v) => v.id)])];
  await atomically(db, [
    db.delete(abRoutes).where(eq(abRoutes.model, model.name)),
    db.delete(routePromotions).where(eq(routePromotions.model, model.name)),
    // a later model of the same name starts with a clean comparison
    db.delete(requestSummaries).where(inArray(requestSummaries.variant, served)),
    db.delete(benchmarkResults).where(eq(benchmarkResults.model, model.name)),
    db.delete(variants).where(eq(variants.modelId, model.id)),
    db.delete(jobs).where(eq(jobs.modelId, model.id)),
    db.delete(models).where(eq(models.id, model.id)),
  ]);
  for (const prefix of [modelPrefix(model.id), ...jobIds.map(jobStagingPrefix)]) {
    await deps.store.deletePrefix(prefix).catch((err) => deps.log?.(`deleting ${prefix} failed; the sweep will retry`, err));
  }
  return { served };
}
