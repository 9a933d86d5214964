/**
 * @module S3 event notifications (the `Records[]` shape S3, MinIO, R2-via-queue and s3rver emit): the
 * zod schema and the created-object records we act on.
 */
import { z } from 'zod';

const record = z.object({
  eventName: z.string(),
  s3: z.object({
    bucket: z.object({ name: z.string() }),
    object: z.object({ key: z.string(), size: z.number().optional(), eTag: z.string().optional() }),
  }),
});

/** An event notification body. */
export const s3EventSchema = z.object({ Records: z.array(record).max(1000) });
export type S3EventNotification = z.infer<typeof s3EventSchema>;

/** One object that was created. Keys are URL-decoded (S3 sends them form-encoded). */
export interface CreatedObject {
  bucket: string;
  key: string;
  size: number | null;
  etag: string | null;
}

/**
 * The ObjectCreated records of `event`, with unquoted etags; keys are URL-decoded unless `encodedKeys`
 * is false (s3rver sends them raw).
 */
export function createdObjects(event: S3EventNotification, encodedKeys = true): CreatedObject[] {
  return event.Records.filter((r) => r.eventName.startsWith('ObjectCreated:') || r.eventName.startsWith('s3:ObjectCreated:')).map((r) => ({
    bucket: r.s3.bucket.name,
    key: encodedKeys ? decodeKey(r.s3.object.key) : r.s3.object.key,
    size: r.s3.object.size ?? null,
    etag: r.s3.object.eTag ? r.s3.object.eTag.replace(/"/g, '') : null,
  }));
}

function decodeKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}
