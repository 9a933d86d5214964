/**
 * @module Queries on `jobs`: the lease-based queue. Every state change is one conditional UPDATE, so two
 * workers can never both hold a job, and a worker that lost its lease can no longer change it.
 */
import { and, asc, eq, inArray, lt, lte, or, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { jobs, models } from '../schema.ts';

/** A job row. */
export type Job = typeof jobs.$inferSelect;
/** What a new job needs. */
export type NewJob = Omit<typeof jobs.$inferInsert, 'createdAt' | 'updatedAt'>;

/** Inserts `job` unless one with its idempotency key exists; returns the job that holds the key. */
export async function insertJobOnce(db: Db, job: NewJob, now: number): Promise<{ job: Job; created: boolean }> {
  const inserted = await db
    .insert(jobs)
    .values({ ...job, createdAt: now, updatedAt: now })
    .onConflictDoNothing({ target: jobs.idempotencyKey })
    .returning();
  if (inserted[0]) return { job: inserted[0], created: true };
  const [existing] = await db.select().from(jobs).where(eq(jobs.idempotencyKey, job.idempotencyKey));
  return { job: existing, created: false };
}

/** The job `id`, or undefined. */
export async function findJob(db: Db, id: string): Promise<Job | undefined> {
  const [row] = await db.select().from(jobs).where(eq(jobs.id, id));
  return row;
}

/** The job holding `idempotencyKey`, or undefined. */
export async function findJobByKey(db: Db, idempotencyKey: string): Promise<Job | undefined> {
  const [row] = await db.select().from(jobs).where(eq(jobs.idempotencyKey, idempotencyKey));
  return row;
}

/** Jobs of one model, oldest first. */
export function jobsOfModel(db: Db, modelId: string): Promise<Job[]> {
  return db.select().from(jobs).where(eq(jobs.modelId, modelId)).orderBy(asc(jobs.createdAt));
}

/**
 * Running jobs whose lease expired after their last allowed attempt become `failed` (dead letter), and
 * so do their models, as when a worker reports the failure itself.
 */
export async function failExhaustedLeases(db: Db, now: number): Promise<{ id: string; modelId: string }[]> {
  const rows = await db
    .update(jobs)
    .set({
      status: 'failed',
      stage: 'failed',
      leaseOwner: null,
      leaseExpiresAt: null,
      finishedAt: now,
      updatedAt: now,
      error: sql`coalesce(${jobs.error} || '; ', '') || 'the worker stopped responding (lease expired) on the last allowed attempt'`,
    })
    .where(and(eq(jobs.status, 'running'), lt(jobs.leaseExpiresAt, now), sql`${jobs.attempts} >= ${jobs.maxAttempts}`))
    .returning({ id: jobs.id, modelId: jobs.modelId });
  for (const r of rows) await db.update(models).set({ status: 'failed' }).where(eq(models.id, r.modelId));
  return rows;
}

/**
 * Claims the oldest runnable job for `lease` until `now + leaseMs`: a queued job whose backoff has
 * passed, or a running one whose lease expired (its worker died). Counts an attempt.
 */
export async function claimNextJob(db: Db, lease: string, now: number, leaseMs: number): Promise<Job | undefined> {
  const runnable = or(
    and(eq(jobs.status, 'queued'), lte(jobs.runAfter, now)),
    and(eq(jobs.status, 'running'), lt(jobs.leaseExpiresAt, now), sql`${jobs.attempts} < ${jobs.maxAttempts}`),
  );
  const next = db.select({ id: jobs.id }).from(jobs).where(runnable).orderBy(asc(jobs.createdAt)).limit(1);
  const [row] = await db
    .update(jobs)
    .set({
      status: 'running',
      stage: 'claimed',
      attempts: sql`${jobs.attempts} + 1`,
      leaseOwner: lease,
      leaseExpiresAt: now + leaseMs,
      updatedAt: now,
    })
    .where(and(inArray(jobs.id, next), runnable))
    .returning();
  return row;
}

/** Extends the lease and records progress; false when `lease` no longer holds the job. */
export async function heartbeatJob(
  db: Db,
  id: string,
  lease: string,
  now: number,
  leaseMs: number,
  progress?: { stage?: string; progress?: number },
): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({
      leaseExpiresAt: now + leaseMs,
      updatedAt: now,
      ...(progress?.stage !== undefined ? { stage: progress.stage } : {}),
      ...(progress?.progress !== undefined ? { progress: progress.progress } : {}),
    })
    .where(and(eq(jobs.id, id), eq(jobs.leaseOwner, lease), eq(jobs.status, 'running')))
    .returning({ id: jobs.id });
  return rows.length > 0;
}

/** Marks the job done; false when `lease` no longer holds it. */
export async function completeJob(db: Db, id: string, lease: string, now: number): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({ status: 'done', stage: 'done', progress: 1, error: null, leaseOwner: null, leaseExpiresAt: null, finishedAt: now, updatedAt: now })
    .where(and(eq(jobs.id, id), eq(jobs.leaseOwner, lease), eq(jobs.status, 'running')))
    .returning({ id: jobs.id });
  return rows.length > 0;
}

/**
 * Records a failed attempt: back to `queued` after `retryAt` when `retryAt` is given, else `failed`
 * (dead letter). False when `lease` no longer holds the job.
 */
export async function failJob(db: Db, id: string, lease: string, now: number, error: string, retryAt: number | null): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set(
      retryAt === null
        ? { status: 'failed', stage: 'failed', error, leaseOwner: null, leaseExpiresAt: null, finishedAt: now, updatedAt: now }
        : { status: 'queued', stage: 'retrying', error, leaseOwner: null, leaseExpiresAt: null, runAfter: retryAt, updatedAt: now },
    )
    .where(and(eq(jobs.id, id), eq(jobs.leaseOwner, lease), eq(jobs.status, 'running')))
    .returning({ id: jobs.id });
  return rows.length > 0;
}
