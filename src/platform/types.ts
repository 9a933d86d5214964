/**
 * @module What the app gets from its runtime, behind one interface: the database, the object store, the
 * job queue and intake settings, and the worker token. Routes use only this type.
 */
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import type { IntakeDeps } from '../jobs/intake.ts';
import type { JobQueue } from '../jobs/queue.ts';
import type { PublishedVariant } from '../jobs/published-variant.ts';
import type { ObjectStore } from '../storage/object-store.ts';

/** The runtime's resources. */
export interface Platform {
  config: Readonly<Config>;
  db: Db;
  store: ObjectStore;
  queue: JobQueue;
  /** Intake settings and handles (uploads, bucket events). */
  intake: IntakeDeps;
  /** The bearer token compression workers present. */
  workerToken: string;
  /**
   * Called after this gateway changed what is served (a job completed, a model was deleted, whose
   * served ids are `removed`): applies it here at once instead of at the next poll. Other gateways learn
   * it from the database.
   */
  servingChanged(removed?: string[]): Promise<void>;
  /** Serves one published variant described by another node (a serving container told by the Worker). */
  serveVariant(v: PublishedVariant): void;
  /** Applies the A/B route of `model` described by another node (null: none), as serveVariant. */
  serveRoute(model: string, route: { arms: { variant: string; weight: number }[]; shadowRate: number } | null): Promise<void>;
  close(): Promise<void>;
}
