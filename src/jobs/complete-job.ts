/**
 * @module Job completion as one atomic write: the job becomes `done`, its variants are inserted or
 * replaced as `ready`, and its model becomes `ready`, all or nothing. The variant and model statements
 * are guarded by the job's own completion (same lease, same finish time), so a lost lease or a model
 * deleted meanwhile writes nothing, on libsql and on D1 alike (see db/atomic.ts).
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { atomically } from '../db/atomic.ts';
import { findJob } from '../db/queries/jobs.ts';
import { findModel } from '../db/queries/models.ts';
import { jobs, models, variants, type VariantEvaluation } from '../db/schema.ts';
import { variantPrefix } from '../storage/layout.ts';
import { servedId } from './published-variant.ts';
import { JobGone, LeaseLost } from './queue.ts';
import type { VariantResult } from './run-job.ts';

/** A variant a worker reports with its completion: what its job produced. */
export type ReportedVariant = VariantResult;

/**
 * Completes job `jobId` under `lease` with its variants. Throws LeaseLost (409) when another worker holds
 * the job, JobGone (410) when the job or its model was deleted.
 * @example const { served } = await completeJobWithVariants(db, 'job_1', lease, variants);
 */
export async function completeJobWithVariants(db: Db, jobId: string, lease: string, reported: ReportedVariant[], now = Date.now()): Promise<{ modelId: string; served: string[] }> {
  const job = await findJob(db, jobId);
  const model = job && (await findModel(db, job.modelId));
  if (!job || !model) throw new JobGone(jobId);
  // the job row marks this completion (status done, this lease, this finish time) until the last statement
  const ours = sql`exists (select 1 from ${jobs} where ${jobs.id} = ${jobId} and ${jobs.status} = 'done' and ${jobs.leaseOwner} = ${lease} and ${jobs.finishedAt} = ${now})`;
  const guard = and(eq(jobs.id, jobId), eq(jobs.status, 'done'), eq(jobs.leaseOwner, lease), eq(jobs.finishedAt, now));
  const upserts = reported.map((v) => {
    const value = <T>(x: T) => sql<T>`${x}`;
    // insert-select from the job row: a variant row exists only when the guard holds (query builders only:
    // D1's batch takes no raw statements with parameters); a re-published variant takes the new files and time
    const row = db
      .select({
        id: value(servedId(model.name, v.name)).as('id'),
        modelId: value(model.id).as('model_id'),
        name: value(v.name).as('name'),
        method: value(v.method).as('method'),
        layers: value(v.layers).as('layers'),
        params: value(v.params).as('params'),
        bytes: value(v.bytes).as('bytes'),
        status: sql<'ready'>`'ready'`.as('status'),
        prefix: value(variantPrefix(model.id, v.name)).as('prefix'),
        evaluation: sql<VariantEvaluation>`${JSON.stringify(v.evaluation)}`.as('evaluation'),
        report: sql<Record<string, unknown> | null>`${v.report === null ? null : JSON.stringify(v.report)}`.as('report'),
        createdAt: value(now).as('created_at'),
      })
      .from(jobs)
      .where(guard);
    return db
      .insert(variants)
      .select(row)
      .onConflictDoUpdate({
        target: [variants.modelId, variants.name],
        set: {
          method: sql`excluded.method`,
          layers: sql`excluded.layers`,
          params: sql`excluded.params`,
          bytes: sql`excluded.bytes`,
          status: 'ready',
          prefix: sql`excluded.prefix`,
          evaluation: sql`excluded.evaluation`,
          report: sql`excluded.report`,
          createdAt: sql`excluded.created_at`,
        },
      });
  });
  const [done] = (await atomically(db, [
    db
      .update(jobs)
      .set({ status: 'done', stage: 'done', progress: 1, error: null, leaseExpiresAt: null, finishedAt: now, updatedAt: now })
      .where(and(eq(jobs.id, jobId), eq(jobs.leaseOwner, lease), eq(jobs.status, 'running')))
      .returning({ id: jobs.id }),
    ...upserts,
    db.update(models).set({ status: 'ready' }).where(and(eq(models.id, model.id), ours)),
    db.update(jobs).set({ leaseOwner: null }).where(and(eq(jobs.id, jobId), ours)),
  ])) as [{ id: string }[]];
  if (done.length === 0) {
    if (!(await findJob(db, jobId)) || !(await findModel(db, model.id))) throw new JobGone(jobId);
    throw new LeaseLost(jobId);
  }
  return { modelId: model.id, served: reported.map((v) => servedId(model.name, v.name)) };
}
