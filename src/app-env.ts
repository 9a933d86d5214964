/**
 * @module The Hono environment types: the variables every router has (Node and the Worker), and the
 * Node gateway's, which adds the serving pool and services that only a Node process holds.
 */
import type { Principal } from './access/keys.ts';
import type { InferenceDeps } from './serving/inference.ts';
import type { ModelPool } from './serving/model-pool.ts';
import type { Platform } from './platform/types.ts';

/** What routers shared by the Node app and the Worker may use. */
export interface SharedAppEnv {
  Variables: {
    /** Storage, database, job queue. */
    platform: Platform;
    /** Who the request acts for (the operator in open mode). */
    principal: Principal;
  };
}

/** The Node gateway's environment: the shared variables plus the model pool and serving services. */
export interface AppEnv {
  Variables: SharedAppEnv['Variables'] & {
    pool: ModelPool;
    /** Serving services: pool, A/B router, metrics. */
    inference: InferenceDeps;
  };
}
