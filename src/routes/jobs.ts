/**
 * @module Job routes: `GET /v1/jobs/:id` for clients, and the worker API (claim, heartbeat, progress,
 * complete, fail) that compression workers call with the worker token.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env.ts';
import type { Job } from '../db/queries/jobs.ts';
import { findModel, setModelStatus } from '../db/queries/models.ts';
import { upsertVariant } from '../db/queries/variants.ts';
import { FlatgateError } from '../errors.ts';
import { servedId } from '../jobs/published-variant.ts';
import { variantPrefix } from '../storage/layout.ts';
import { canUse } from '../access/keys.ts';
import { parseJson } from './validate.ts';
import { requireWorkerToken } from './worker-auth.ts';

/** An unknown job id. */
export class JobNotFound extends FlatgateError {
  constructor(id: string) {
    super(`No job '${id}'`, 'job_not_found', 'not_found_error', 'id');
  }
}

/** The public view of a job. */
export function jobJson(j: Job) {
  return {
    id: j.id,
    object: 'job',
    model_id: j.modelId,
    status: j.status,
    stage: j.stage,
    progress: j.progress,
    attempts: j.attempts,
    max_attempts: j.maxAttempts,
    error: j.error,
    created_at: Math.floor(j.createdAt / 1000),
    finished_at: j.finishedAt === null ? null : Math.floor(j.finishedAt / 1000),
  };
}

const claimSchema = z.object({ worker_id: z.string().min(1).max(200) });
const heartbeatSchema = z.object({ lease: z.string().min(1), stage: z.string().max(200).optional(), progress: z.number().min(0).max(1).optional() });
const progressSchema = heartbeatSchema.extend({ progress: z.number().min(0).max(1) });
const evaluationSchema = z.object({
  ppl: z.number().nullable(),
  tasks: z.record(z.string(), z.unknown()),
  agreement: z.record(z.string(), z.unknown()),
});
const completeSchema = z.object({
  lease: z.string().min(1),
  variants: z
    .array(
      z.object({
        name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
        method: z.string().min(1).max(64),
        layers: z.number().int().min(0),
        params: z.number().int().min(0),
        bytes: z.number().int().min(0),
        evaluation: evaluationSchema,
        report: z.record(z.string(), z.unknown()).nullable(),
      }),
    )
    .min(1)
    .max(16),
});
const failSchema = z.object({ lease: z.string().min(1), error: z.string().max(4000), retryable: z.boolean().default(true) });

/** The job routes. */
export const jobsRoute = new Hono<AppEnv>();

jobsRoute.get('/v1/jobs/:id', async (c) => {
  const job = await c.var.platform.queue.get(c.req.param('id'));
  if (!job || !canUse(c.var.principal, (await findModel(c.var.platform.db, job.modelId))?.owner)) throw new JobNotFound(c.req.param('id'));
  return c.json(jobJson(job));
});

jobsRoute.use('/v1/worker/*', requireWorkerToken());

jobsRoute.post('/v1/worker/claim', async (c) => {
  const { queue } = c.var.platform;
  const { worker_id } = await parseJson(c, claimSchema);
  const claim = await queue.claim(worker_id);
  if (!claim) return c.body(null, 204);
  const j = claim.job;
  return c.json({
    job: { id: j.id, model_id: j.modelId, attempts: j.attempts, params: j.params, source: { bucket: j.sourceBucket, key: j.sourceKey } },
    lease: claim.lease,
    lease_ms: queue.policy.leaseMs,
  });
});

jobsRoute.post('/v1/worker/jobs/:id/heartbeat', async (c) => {
  const req = await parseJson(c, heartbeatSchema);
  await c.var.platform.queue.heartbeat(c.req.param('id'), req.lease, { stage: req.stage, progress: req.progress });
  return c.json({ ok: true });
});

jobsRoute.post('/v1/worker/jobs/:id/progress', async (c) => {
  const req = await parseJson(c, progressSchema);
  await c.var.platform.queue.heartbeat(c.req.param('id'), req.lease, { stage: req.stage, progress: req.progress });
  return c.json({ ok: true });
});

jobsRoute.post('/v1/worker/jobs/:id/complete', async (c) => {
  const { queue, db } = c.var.platform;
  const id = c.req.param('id');
  const req = await parseJson(c, completeSchema);
  await queue.heartbeat(id, req.lease, { stage: 'registering' });
  const job = (await queue.get(id))!;
  const model = await findModel(db, job.modelId);
  if (!model) throw new JobNotFound(id);
  const now = Date.now();
  for (const v of req.variants) {
    await upsertVariant(db, {
      id: servedId(model.name, v.name),
      modelId: model.id,
      name: v.name,
      method: v.method,
      layers: v.layers,
      params: v.params,
      bytes: v.bytes,
      status: 'ready',
      prefix: variantPrefix(model.id, v.name),
      evaluation: v.evaluation,
      report: v.report,
      createdAt: now,
    });
  }
  await setModelStatus(db, model.id, 'ready');
  await queue.complete(id, req.lease);
  const served = await c.var.platform.serveVariants(model.id);
  return c.json({ ok: true, served });
});

jobsRoute.post('/v1/worker/jobs/:id/fail', async (c) => {
  const { queue, db } = c.var.platform;
  const id = c.req.param('id');
  const req = await parseJson(c, failSchema);
  const status = await queue.fail(id, req.lease, req.error, req.retryable);
  if (status === 'failed') {
    const job = await queue.get(id);
    if (job) await setModelStatus(db, job.modelId, 'failed');
  }
  return c.json({ status });
});

const serveSchema = z.object({
  variants: z
    .array(
      z.object({
        id: z.string().min(1),
        model_id: z.string().min(1),
        variant: z.string().regex(/^[A-Za-z0-9._-]+$/),
        parent: z.string().nullable(),
        method: z.string().min(1),
        created: z.number().int(),
        layers: z.number().int().positive(),
        params: z.number().int().positive(),
        bytes: z.number().int().nonnegative(),
        evaluation: z.record(z.string(), z.unknown()).nullable(),
        owner: z.string().nullable(),
      }),
    )
    .max(64),
});

/** A serving node is told which published variants to serve (the Cloudflare Worker tells its containers). */
jobsRoute.post('/v1/worker/serve', async (c) => {
  const { variants } = await parseJson(c, serveSchema);
  for (const { model_id: modelId, ...v } of variants) c.var.platform.serveVariant({ ...v, modelId });
  return c.json({ object: 'list', data: variants.map((v) => v.id) });
});
