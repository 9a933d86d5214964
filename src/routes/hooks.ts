/**
 * @module `POST /v1/hooks/s3`: S3 event notifications (`Records[]`, as S3, MinIO, R2 via a queue
 * consumer and the embedded server send them). Objects under the uploads prefix start one job per
 * object version; repeats and pipeline objects start nothing.
 */
import { Hono } from 'hono';
import type { SharedAppEnv } from '../app-env.ts';
import { intakeCreatedObjects } from '../jobs/event-intake.ts';
import { createdObjects, s3EventSchema } from '../storage/s3-events.ts';
import { parseJson } from './validate.ts';
import { requireWorkerToken } from './worker-auth.ts';

/** The bucket-event hook. */
export const hooksRoute = new Hono<SharedAppEnv>();

hooksRoute.post('/v1/hooks/s3', requireWorkerToken({ allowQuery: true }), async (c) => {
  const event = await parseJson(c, s3EventSchema);
  const outcomes = await intakeCreatedObjects(c.var.platform.intake, createdObjects(event));
  return c.json({
    results: outcomes.map((o) =>
      o.action === 'ignored' ? { key: o.key, action: o.action, reason: o.reason } : { key: o.key, action: o.action, job: { id: o.job.id, status: o.job.status, model_id: o.job.modelId } },
    ),
  });
});
