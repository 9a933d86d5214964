/**
 * @module R2 event notifications, as a Queue delivers them (one message per object event), and the
 * created-object records the shared bucket-event intake acts on.
 * See https://developers.cloudflare.com/r2/buckets/event-notifications/ for the message shape.
 */
import { z } from 'zod';
import type { CreatedObject } from './s3-events.ts';

/** One R2 event notification message body. */
export const r2EventSchema = z.object({
  account: z.string().optional(),
  bucket: z.string(),
  action: z.string(),
  object: z.object({ key: z.string(), size: z.number().optional(), eTag: z.string().optional() }),
  eventTime: z.string().optional(),
});
export type R2EventNotification = z.infer<typeof r2EventSchema>;

/** Actions that leave a new object (a plain put, a copy, a completed multipart upload). */
const CREATING = new Set(['PutObject', 'CopyObject', 'CompleteMultipartUpload']);

/**
 * The created object of an R2 event, or null for deletions and other actions. R2 sends keys unencoded.
 * @example createdObjectOfR2({ bucket: 'b', action: 'PutObject', object: { key: 'uploads/x.tar' } })
 */
export function createdObjectOfR2(event: R2EventNotification): CreatedObject | null {
  if (!CREATING.has(event.action)) return null;
  return {
    bucket: event.bucket,
    key: event.object.key,
    size: event.object.size ?? null,
    etag: event.object.eTag ? event.object.eTag.replace(/"/g, '') : null,
  };
}
