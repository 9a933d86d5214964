import { describe, expect, it } from 'vitest';
import { createdObjectOfR2, r2EventSchema } from './r2-events.ts';

// message bodies as documented for R2 event notifications (developers.cloudflare.com/r2/buckets/event-notifications)
const put = { account: 'acc', action: 'PutObject', bucket: 'flatgate', object: { key: 'uploads/my model.tar', size: 65536, eTag: 'c846ff7a18f28c2e262116d6e8719ef0' }, eventTime: '2024-05-24T19:36:44.379Z' };

describe('R2 event notifications', () => {
  it('turns creating actions into created objects, keys as sent', () => {
    for (const action of ['PutObject', 'CopyObject', 'CompleteMultipartUpload']) {
      expect(createdObjectOfR2(r2EventSchema.parse({ ...put, action }))).toEqual({ bucket: 'flatgate', key: 'uploads/my model.tar', size: 65536, etag: 'c846ff7a18f28c2e262116d6e8719ef0' });
    }
  });

  it('ignores deletions and tolerates a missing size or etag', () => {
    expect(createdObjectOfR2({ ...put, action: 'DeleteObject' })).toBeNull();
    expect(createdObjectOfR2({ ...put, action: 'LifecycleDeletion' })).toBeNull();
    expect(createdObjectOfR2({ bucket: 'b', action: 'PutObject', object: { key: 'uploads/x', eTag: '"q"' } })).toEqual({ bucket: 'b', key: 'uploads/x', size: null, etag: 'q' });
  });

  it('rejects bodies that are not R2 events', () => {
    expect(r2EventSchema.safeParse({ Records: [] }).success).toBe(false);
    expect(r2EventSchema.safeParse({ ...put, object: {} }).success).toBe(false);
  });
});
