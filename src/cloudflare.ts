/**
 * @module The Cloudflare Workers entry (wrangler's `main`): the HTTP app, the Queue consumer of R2
 * upload events, and the Durable Object class of the serving containers.
 */
import type { MessageBatch } from '@cloudflare/workers-types/latest/index.ts';
import { createCloudflareApp } from './cloudflare-app.ts';
import { intakeR2Batch } from './jobs/r2-event-intake.ts';
import { cloudflarePlatform, type CloudflareBindings } from './platform/cloudflare.ts';

export { ServingContainer } from './platform/serving-container.ts';

const app = createCloudflareApp();

/** The Worker's handlers. */
export default {
  fetch: (req: Request, env: CloudflareBindings, ctx: unknown) => app.fetch(req, env, ctx as never),
  queue: (batch: MessageBatch<unknown>, env: CloudflareBindings) => intakeR2Batch(cloudflarePlatform(env).intake, batch),
};
