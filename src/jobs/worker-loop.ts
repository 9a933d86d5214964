/**
 * @module The compression worker loop: claim a job from the gateway, heartbeat while running it, then
 * complete or fail it. Bad input fails at once (dead letter); anything else is retried by the queue.
 */
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlatgateError } from '../errors.ts';
import { modelPrefix } from '../storage/layout.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { scratchFolder } from '../storage/scratch.ts';
import { jobStagingPrefix } from './delete-model.ts';
import { GatewayClient, GatewayError, type ClaimedJob } from './gateway-client.ts';
import { runJob } from './run-job.ts';

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  gatewayUrl: string;
  token: string;
  workerId: string;
  store: ObjectStore;
  /** The data directory, whose scratch space holds each job's working folder (storage/scratch.ts). */
  dataDir: string;
  /** Wait between empty claims (default 1000 ms). */
  pollMs?: number;
  /** Stop after the first job (or at once when the queue is empty). */
  once?: boolean;
  threads?: number;
  /** Folder with the zero-shot task files (default: the bundled subsets). */
  taskDataDir?: string;
  signal?: AbortSignal;
  log?: (msg: string) => void;
}

/**
 * Errors that retrying cannot fix: the upload itself is bad, or the gateway refused the completion as
 * malformed or too large (400, 413), which running the whole job again would only send again.
 */
export function isPermanent(err: unknown): boolean {
  if (err instanceof GatewayError) return err.httpStatus === 400 || err.httpStatus === 413;
  return err instanceof FlatgateError && err.type === 'invalid_request_error';
}

/**
 * Runs jobs until `signal` aborts (or after one job with `once`).
 * @example await runWorker({ gatewayUrl: 'http://127.0.0.1:8080', token, workerId: 'w1', store });
 */
export async function runWorker(opts: WorkerOptions): Promise<void> {
  const gw = new GatewayClient(opts.gatewayUrl, opts.token);
  const log = opts.log ?? ((m: string) => console.log(m));
  while (!opts.signal?.aborted) {
    let claim;
    try {
      claim = await gw.claim(opts.workerId);
    } catch (err) {
      if (err instanceof GatewayError && err.httpStatus === 401) throw err;
      log(`claim failed: ${(err as Error).message}`);
      claim = null;
    }
    if (!claim) {
      if (opts.once) return;
      await sleep(opts.pollMs ?? 1000, undefined, { signal: opts.signal }).catch(() => undefined);
      continue;
    }
    await runClaimed(gw, opts, claim.job, claim.lease, claim.lease_ms, log);
    if (opts.once) return;
  }
}

async function runClaimed(gw: GatewayClient, opts: WorkerOptions, job: ClaimedJob, lease: string, leaseMs: number, log: (m: string) => void): Promise<void> {
  log(`job ${job.id} (model ${job.model_id}, attempt ${job.attempts}) started`);
  const lost = new AbortController();
  let stage = 'claimed';
  let progress = 0;
  // 409: another worker holds the job now; 410: the model was deleted, so what this job published must go
  let deleted = false;
  const beat = async () => {
    try {
      await gw.heartbeat(job.id, lease, stage, progress);
    } catch (err) {
      if (err instanceof GatewayError && err.httpStatus === 410) deleted = true;
      if (err instanceof GatewayError && (err.httpStatus === 409 || err.httpStatus === 410)) lost.abort(err);
    }
  };
  const timer = setInterval(() => void beat(), Math.max(100, Math.floor(leaseMs / 3)));
  const workDir = await scratchFolder(opts.dataDir, `job-${job.id}-`);
  try {
    const variants = await runJob({
      job: { id: job.id, modelId: job.model_id, attempts: job.attempts, sourceKey: job.source.key, params: job.params },
      store: opts.store,
      workDir,
      signal: lost.signal,
      threads: opts.threads,
      taskDataDir: opts.taskDataDir,
      onProgress: (s, p) => {
        stage = s;
        progress = Math.min(1, Math.max(0, p));
      },
    });
    clearInterval(timer);
    // the variants are in the bucket now: the scratch goes before the job is reported done, so a job seen
    // done has left nothing on this machine
    await rm(workDir, { recursive: true, force: true });
    // completing is idempotent under the lease: retry a passing network fault rather than redo the job
    for (let attempt = 1; ; attempt++) {
      try {
        await gw.complete(job.id, lease, variants);
        break;
      } catch (err) {
        const transient = !(err instanceof FlatgateError) || (err instanceof GatewayError && err.httpStatus >= 500);
        if (attempt >= 3 || !transient) throw err;
        log(`job ${job.id}: completing failed (${(err as Error).message}); retrying`);
        await sleep(1000 * attempt);
      }
    }
    log(`job ${job.id} done: ${variants.map((v) => v.name).join(', ')}`);
  } catch (err) {
    clearInterval(timer);
    if (deleted || (err instanceof GatewayError && err.httpStatus === 410)) {
      log(`job ${job.id}: its model was deleted; removing what it published`);
      await removePublished(opts.store, job).catch((e) => log(`removing the objects of job ${job.id} failed: ${(e as Error).message}`));
      return;
    }
    if (lost.signal.aborted) {
      log(`job ${job.id}: lease lost, dropped`);
      return;
    }
    const raw = err instanceof FlatgateError ? err.message : `${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? String(err)}`;
    // the job's error is shown to the model's owner: no paths of this machine in it
    const message = raw.split(workDir).join('.');
    log(`job ${job.id} failed: ${message}`);
    await gw.fail(job.id, lease, message, !isPermanent(err)).catch((e) => log(`reporting the failure failed: ${(e as Error).message}`));
  } finally {
    clearInterval(timer);
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Deletes every object of a deleted model's job: its published variants and its staging. */
async function removePublished(store: ObjectStore, job: ClaimedJob): Promise<void> {
  await store.deletePrefix(modelPrefix(job.model_id));
  await store.deletePrefix(jobStagingPrefix(job.id));
}
