/**
 * @module The two multipart calls s3rver lacks, added to the embedded server: ListMultipartUploads
 * (`GET /<bucket>?uploads`) and AbortMultipartUpload (`DELETE /<bucket>/<key>?uploadId=`), so that the
 * start-up sweep works the same against the embedded server as against S3, R2 or MinIO. s3rver keeps an
 * upload's parts in `<directory>/<bucket>/._S3rver_uploads/<uploadId>/` with its key in a `key` file.
 */
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** The subset of Koa's context the middleware uses. */
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
}

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const UPLOAD_ID = /^[0-9a-f]{32}$/;

/**
 * A Koa middleware for s3rver storing under `directory`: answers the two calls, passes on the rest.
 * @example server.middleware.splice(server.middleware.length - 1, 0, multipartCalls(dir));
 */
export function multipartCalls(directory: string) {
  return async (ctx: KoaContext, next: () => Promise<unknown>): Promise<unknown> => {
    const [, bucket, ...rest] = ctx.path.split('/').filter((p, i) => i < 2 || p !== '');
    if (!bucket || bucket.includes('..')) return next();
    const uploadsDir = join(directory, bucket, '._S3rver_uploads');
    if (ctx.method === 'GET' && rest.length === 0 && 'uploads' in ctx.query) {
      const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
      const found: { Key: string; UploadId: string; Initiated: string }[] = [];
      for (const id of await readdir(uploadsDir).catch(() => [] as string[])) {
        if (!UPLOAD_ID.test(id)) continue;
        const key = await readFile(join(uploadsDir, id, 'key'), 'utf8').catch(() => null);
        if (key === null || !key.startsWith(prefix)) continue;
        const initiated = (await stat(join(uploadsDir, id))).birthtime;
        found.push({ Key: key, UploadId: id, Initiated: initiated.toISOString() });
      }
      found.sort((a, b) => a.Key.localeCompare(b.Key) || a.UploadId.localeCompare(b.UploadId));
      ctx.body = { ListMultipartUploadsResult: { '@': { xmlns: NS }, Bucket: bucket, Prefix: prefix, IsTruncated: false, Upload: found } };
      return;
    }
    const id = ctx.query.uploadId;
    if (ctx.method === 'DELETE' && rest.length > 0 && typeof id === 'string') {
      if (!UPLOAD_ID.test(id)) return next();
      await rm(join(uploadsDir, id), { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    return next();
  };
}
