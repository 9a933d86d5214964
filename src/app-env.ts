/**
 * @module The one Hono environment type every router uses.
 */
import type { Principal } from './access/keys.ts';
import type { InferenceDeps } from './serving/inference.ts';
import type { ModelPool } from './serving/model-pool.ts';
import type { Platform } from './platform/types.ts';

/** Bindings and per-request variables of the app. */
export interface AppEnv {
  Variables: {
    pool: ModelPool;
    /** Serving services: pool, A/B router, metrics. */
    inference: InferenceDeps;
    /** Storage, database, job queue (set when the app runs with a platform). */
    platform: Platform;
    /** Who the request acts for (the operator in open mode). */
    principal: Principal;
  };
}
