/**
 * @module The Queue consumer of R2 event notifications: each message that reports a created object
 * goes through the same intake as `POST /v1/hooks/s3` (one job per object version under the uploads
 * prefix). Malformed and non-creating events are acknowledged and dropped; intake failures are retried
 * by the queue (and end in its dead-letter queue).
 */
import type { MessageBatch } from '@cloudflare/workers-types/latest/index.ts';
import { createdObjectOfR2, r2EventSchema } from '../storage/r2-events.ts';
import { intakeCreatedObjects, type EventOutcome } from './event-intake.ts';
import type { IntakeDeps } from './intake.ts';

/** One line per outcome, for the Worker's logs. */
export function describeOutcome(o: EventOutcome): string {
  return o.action === 'ignored' ? `${o.key}: ignored (${o.reason})` : `${o.key}: ${o.action} ${o.job.id}`;
}

/**
 * Handles one batch delivered by the upload-events queue.
 * @example export default { queue: (batch, env) => intakeR2Batch(cloudflarePlatform(env).intake, batch) };
 */
export async function intakeR2Batch(deps: IntakeDeps, batch: MessageBatch<unknown>, log: (msg: string, err?: unknown) => void = console.log): Promise<void> {
  for (const msg of batch.messages) {
    const parsed = r2EventSchema.safeParse(msg.body);
    if (!parsed.success) {
      log(`dropping a malformed upload event ${msg.id}: ${parsed.error.issues[0]?.message}`);
      msg.ack();
      continue;
    }
    const created = createdObjectOfR2(parsed.data);
    if (!created) {
      msg.ack();
      continue;
    }
    try {
      for (const o of await intakeCreatedObjects(deps, [created])) log(`upload event ${describeOutcome(o)}`);
      msg.ack();
    } catch (err) {
      log(`upload event ${created.key} failed (attempt ${msg.attempts}); the queue will retry`, err);
      msg.retry();
    }
  }
}
