/**
 * @module The DB-backed job queue: claim with a lease, heartbeat, complete, fail with retry and
 * exponential backoff, dead letter after the last attempt. A worker that dies simply stops
 * heartbeating; its lease expires and the next claim takes the job over.
 */
import { FlatgateError } from '../errors.ts';
import type { Db } from '../db/client.ts';
import {
  claimNextJob,
  completeJob,
  failExhaustedLeases,
  failJob,
  findJob,
  heartbeatJob,
  insertJobOnce,
  type Job,
  type NewJob,
} from '../db/queries/jobs.ts';

/** Queue policy. */
export interface QueuePolicy {
  leaseMs: number;
  maxAttempts: number;
  /** Delay before the first retry; each further retry doubles it. */
  retryBaseMs: number;
}

/** The worker no longer holds the job (its lease expired and another worker took it, or it finished). */
export class LeaseLost extends FlatgateError {
  readonly status = 409;
  constructor(jobId: string) {
    super(`The lease on job ${jobId} is no longer held by this worker`, 'lease_lost');
  }
}

/**
 * The job no longer exists: its model was deleted while it ran (HTTP 410). The worker stops and
 * removes what it published.
 */
export class JobGone extends FlatgateError {
  readonly status = 410;
  constructor(jobId: string) {
    super(`Job ${jobId} and its model were deleted; stop and remove what it published`, 'model_deleted', 'not_found_error');
  }
}

/** A claimed job and the lease token that proves it. */
export interface Claim {
  job: Job;
  lease: string;
}

/**
 * The queue over `db`.
 * @example
 * const q = new JobQueue(db, { leaseMs: 60_000, maxAttempts: 3, retryBaseMs: 5_000 });
 * const claim = await q.claim('worker-1');
 */
export class JobQueue {
  private givenUp: (job: { id: string; modelId: string }) => Promise<void> = async () => undefined;

  constructor(
    readonly db: Db,
    readonly policy: QueuePolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** Calls `fn` for each job that failed for good (no attempts left, or a permanent error); its errors are ignored. */
  onGiveUp(fn: (job: { id: string; modelId: string }) => Promise<void>): void {
    this.givenUp = fn;
  }

  private async failExhausted(now: number): Promise<void> {
    for (const job of await failExhaustedLeases(this.db, now)) await this.givenUp(job).catch(() => undefined);
  }

  /** Enqueues `job` unless its idempotency key is already known. */
  enqueue(job: Omit<NewJob, 'maxAttempts'>): Promise<{ job: Job; created: boolean }> {
    return insertJobOnce(this.db, { ...job, maxAttempts: this.policy.maxAttempts }, this.now());
  }

  /** The job `id` (after failing jobs whose last lease ran out). */
  async get(id: string): Promise<Job | undefined> {
    await this.failExhausted(this.now());
    return findJob(this.db, id);
  }

  /** Claims the next runnable job for `workerId`, or returns null when there is none. */
  async claim(workerId: string): Promise<Claim | null> {
    const now = this.now();
    await this.failExhausted(now);
    const lease = `${workerId}/${crypto.randomUUID()}`;
    const job = await claimNextJob(this.db, lease, now, this.policy.leaseMs);
    return job ? { job, lease } : null;
  }

  /**
   * Extends the lease (and records progress); throws LeaseLost when the job was taken over, JobGone when
   * its model was deleted.
   */
  async heartbeat(id: string, lease: string, progress?: { stage?: string; progress?: number }): Promise<void> {
    if (await heartbeatJob(this.db, id, lease, this.now(), this.policy.leaseMs, progress)) return;
    throw (await findJob(this.db, id)) ? new LeaseLost(id) : new JobGone(id);
  }

  /** Marks the job done; throws LeaseLost when the job was taken over. */
  async complete(id: string, lease: string): Promise<void> {
    if (!(await completeJob(this.db, id, lease, this.now()))) throw new LeaseLost(id);
  }

  /**
   * Records a failed attempt: requeued with backoff while attempts remain and the error is retryable,
   * else `failed` with the reason.
   */
  async fail(id: string, lease: string, error: string, retryable: boolean): Promise<'queued' | 'failed'> {
    const job = await findJob(this.db, id);
    if (!job) throw new JobGone(id);
    if (job.leaseOwner !== lease) throw new LeaseLost(id);
    const now = this.now();
    const retry = retryable && job.attempts < job.maxAttempts;
    const retryAt = retry ? now + this.policy.retryBaseMs * 2 ** (job.attempts - 1) : null;
    const reason = retry ? error : `${error} (attempt ${job.attempts} of ${job.maxAttempts})`;
    if (!(await failJob(this.db, id, lease, now, reason, retryAt))) throw new LeaseLost(id);
    if (!retry) await this.givenUp(job).catch(() => undefined);
    return retry ? 'queued' : 'failed';
  }
}
