/**
 * @module Upload routes: `POST /v1/uploads?name=NAME` streams an archive (raw body or multipart field
 * `file`) into storage and answers 202 with the model and its job; `POST /v1/uploads/multipart` and
 * `.../:id/complete` run a presigned multipart upload straight to the bucket.
 */
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { canManage } from '../access/keys.ts';
import type { AppEnv } from '../app-env.ts';
import { reserveUploadQuota } from '../jobs/upload-quota.ts';
import { checkModelName } from '../jobs/intake.ts';
import { uploadParams } from './upload-params.ts';
import { paramsFromQuery } from '../jobs/params.ts';
import { completePresignedUpload, startPresignedUpload } from '../jobs/presigned-intake.ts';
import { discardRest, receiveUpload, uncancellable, UploadTooLarge, type AcceptedUpload } from '../jobs/upload-intake.ts';
import { multipartBoundary, multipartFile } from './multipart-file.ts';
import { parseJson } from './validate.ts';
import { ClientClosedRequest, FlatgateError, InvalidRequest, QuotaExceeded } from '../errors.ts';

const accepted = (u: AcceptedUpload) => ({
  model: { id: u.model.id, name: u.model.name },
  job: { id: u.job.id, status: u.job.status },
  sha256: u.sha256,
  bytes: u.bytes,
});

const startSchema = z.object({
  name: z.string(),
  size: z.number().int().positive(),
  params: z.record(z.string(), z.unknown()).optional(),
});

const completeSchema = z.object({
  parts: z.array(z.object({ part_number: z.number().int().min(1).max(10_000), etag: z.string().min(1) })).min(1).max(10_000),
});

/** The upload routes. */
export const uploadsRoute = new Hono<AppEnv>();

/**
 * Reserves quota for an upload of `bytes` (unknown: what is left) before any byte is read; the intake
 * it returns is limited to the reservation, and "too large" becomes "over quota" where that was tighter.
 */
async function quotaFor(c: Context<AppEnv>, bytes: number | undefined) {
  const p = c.var.principal;
  const { intake, db } = c.var.platform;
  if (bytes !== undefined && bytes > intake.maxUploadBytes) throw new UploadTooLarge(intake.maxUploadBytes);
  const reserved = await reserveUploadQuota(db, p.keyId, p.uploadQuota, bytes, intake.maxUploadBytes);
  return {
    reserved,
    intake: reserved.limit < intake.maxUploadBytes ? { ...intake, maxUploadBytes: reserved.limit } : intake,
    translate(err: unknown): unknown {
      return err instanceof UploadTooLarge && reserved.limit < intake.maxUploadBytes ? new QuotaExceeded(p.uploadQuota) : err;
    },
  };
}

/** Whether `err` is the request body breaking off because the client disconnected. */
function clientGone(err: unknown, signal: AbortSignal): boolean {
  if (err instanceof FlatgateError) return false;
  if (signal.aborted) return true;
  const e = err as { code?: string; message?: string; name?: string };
  return e?.code === 'ECONNRESET' || e?.name === 'AbortError' || /^(aborted|terminated)$/i.test(e?.message ?? '');
}

uploadsRoute.post('/v1/uploads', async (c) => {
  if (!c.req.raw.body) throw new InvalidRequest('The request has no body: send the archive (--data-binary @model.tar.gz) or a multipart field "file"', 'file');
  const stream = uncancellable(c.req.raw.body as unknown as AsyncIterable<Uint8Array>);
  let quota: Awaited<ReturnType<typeof quotaFor>> | null = null;
  try {
    const name = checkModelName(c.req.query('name'));
    const params = uploadParams(c.var.principal, paramsFromQuery(c.req.query()));
    const boundary = multipartBoundary(c.req.header('content-type'));
    const length = Number(c.req.header('content-length'));
    const declared = Number.isInteger(length) && length >= 0 ? length : undefined;
    const bytes = boundary ? multipartFile(stream, boundary, 'file') : stream;
    // the whole body bounds a multipart file, so its length is enough to reserve
    quota = await quotaFor(c, boundary && declared !== undefined ? Math.min(declared, c.var.platform.intake.maxUploadBytes) : declared);
    const u = await receiveUpload(quota.intake, name, params, bytes, { declaredBytes: boundary ? undefined : declared, owner: c.var.principal.owner });
    await quota.reserved.settle(u.bytes);
    return c.json(accepted(u), 202);
  } catch (err) {
    await quota?.reserved.release();
    // a client that went away mid-upload is not a server error
    if (clientGone(err, c.req.raw.signal)) throw new ClientClosedRequest();
    // an oversize body is left unread (the app closes the connection); others are read to the end
    if (!(err instanceof UploadTooLarge) && !(err instanceof QuotaExceeded)) await discardRest(stream);
    throw quota ? quota.translate(err) : err;
  }
});

uploadsRoute.post('/v1/uploads/multipart', async (c) => {
  const { intake } = c.var.platform;
  const req = await parseJson(c, startSchema);
  const name = checkModelName(req.name);
  const params = uploadParams(c.var.principal, req.params ?? {});
  const { reserved } = await quotaFor(c, req.size);
  const up = await startPresignedUpload(intake, name, req.size, params, c.var.principal.owner, reserved.limit === Infinity ? null : c.var.principal.keyId).catch(async (err: unknown) => {
    await reserved.release();
    throw err;
  });
  return c.json(
    {
      id: up.id,
      part_size: up.partSize,
      parts: up.parts.map((p) => ({ part_number: p.partNumber, url: p.url })),
      expires_at: Math.floor(up.expiresAt / 1000),
      complete_url: `/v1/uploads/multipart/${up.id}/complete`,
    },
    201,
  );
});

uploadsRoute.post('/v1/uploads/multipart/:id/complete', async (c) => {
  const { intake } = c.var.platform;
  const req = await parseJson(c, completeSchema);
  const parts = req.parts.map((p) => ({ partNumber: p.part_number, etag: p.etag }));
  const u = await completePresignedUpload(intake, c.req.param('id'), parts, (owner) => canManage(c.var.principal, owner));
  return c.json(accepted(u), 202);
});
