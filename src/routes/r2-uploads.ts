/**
 * @module Upload routes of the Cloudflare Worker. `POST /v1/uploads?name=NAME` streams the raw archive
 * (Content-Length required) into R2 at the model's original key and queues its job at once: checking
 * the archive needs the filesystem, so the compression worker validates it and a bad archive fails the
 * job with the reason. `POST /v1/hooks/r2` takes R2 event notifications (replays, and local dev, where
 * R2 sends none) onto the upload-events queue. Archives larger than a Worker request go to the bucket
 * under the uploads prefix with any S3 client; R2 notifies the queue.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { reserveUploadQuota } from '../jobs/upload-quota.ts';
import { FlatgateError, InvalidRequest, PayloadTooLarge } from '../errors.ts';
import { intakeCreatedObjects } from '../jobs/event-intake.ts';
import { assertNameFree, checkModelName, newModelId, registerUpload } from '../jobs/intake.ts';
import { paramsFromQuery } from '../jobs/params.ts';
import type { CloudflareAppEnv } from '../platform/cloudflare.ts';
import { originalArchiveKey } from '../storage/layout.ts';
import { createdObjectOfR2, r2EventSchema } from '../storage/r2-events.ts';
import { uploadParams } from './upload-params.ts';
import { parseJson } from './validate.ts';
import { requireWorkerToken } from './worker-auth.ts';

/** A route the Worker does not offer, with what to do instead (HTTP 501). */
export class NotOnWorkers extends FlatgateError {
  readonly status = 501;
  constructor(message: string) {
    super(message, 'not_on_workers', 'invalid_request_error');
  }
}

const hookSchema = z.union([r2EventSchema, z.object({ events: z.array(r2EventSchema).min(1).max(100) })]);

/** The Worker's upload routes. */
export const r2UploadsRoute = new Hono<CloudflareAppEnv>();

r2UploadsRoute.post('/v1/uploads', async (c) => {
  const p = c.var.cloudflare;
  const principal = c.var.principal;
  const name = checkModelName(c.req.query('name'));
  const params = uploadParams(c.var.principal, paramsFromQuery(c.req.query()));
  if (c.req.header('content-type')?.toLowerCase().startsWith('multipart/')) {
    throw new InvalidRequest('The Worker takes the archive as the raw request body (curl --data-binary @model.tar), not a multipart form', 'file');
  }
  const length = Number(c.req.header('content-length'));
  const body = c.req.raw.body;
  if (!body || !Number.isInteger(length) || length <= 0) throw new InvalidRequest('Send the archive as the request body, with its Content-Length', 'file');
  if (length > p.intake.maxUploadBytes) throw new PayloadTooLarge(p.intake.maxUploadBytes);
  await assertNameFree(p.intake, name, principal.owner);
  const quota = await reserveUploadQuota(p.db, principal.keyId, principal.uploadQuota, length, p.intake.maxUploadBytes);
  const modelId = newModelId();
  const key = originalArchiveKey(modelId);
  let stored: Awaited<ReturnType<typeof p.objects.putStream>> | null = null;
  try {
    stored = await p.objects.putStream(key, body as unknown as ReadableStream<Uint8Array>, length, { contentType: 'application/x-tar' });
    const { job } = await registerUpload(p.intake, { modelId, name, key, etag: stored.etag, sha256: stored.sha256, bytes: stored.size, params, owner: principal.owner });
    await quota.settle(stored.size);
    return c.json({ model: { id: modelId, name }, job: { id: job.id, status: job.status }, sha256: stored.sha256, bytes: stored.size }, 202);
  } catch (err) {
    await quota.release();
    if (stored) await p.objects.deleteKeys([key]);
    throw err;
  }
});

r2UploadsRoute.post('/v1/uploads/multipart', () => {
  throw new NotOnWorkers('Presigned multipart uploads are not offered by the Cloudflare deployment: put large archives into the bucket under the uploads prefix with any S3 client (R2 notifies the gateway)');
});

r2UploadsRoute.post('/v1/hooks/r2', requireWorkerToken(), async (c) => {
  const p = c.var.cloudflare;
  const req = await parseJson(c, hookSchema);
  const events = 'events' in req ? req.events : [req];
  if (p.uploadEvents) {
    await p.uploadEvents.sendBatch(events.map((body) => ({ body })));
    return c.json({ queued: events.length }, 202);
  }
  const created = events.map(createdObjectOfR2).filter((o) => o !== null);
  const outcomes = await intakeCreatedObjects(p.intake, created);
  return c.json({ results: outcomes.map((o) => (o.action === 'ignored' ? { key: o.key, action: o.action, reason: o.reason } : { key: o.key, action: o.action, job: { id: o.job.id } })) });
});
