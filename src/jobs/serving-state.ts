/**
 * @module What a Node gateway serves, mirrored from the database: ready variants (registered in the
 * model pool, weights fetched from the bucket on first use), A/B routes, and deletions (pool entries
 * and cache folders of models whose rows are gone). A gateway polls one cheap version row and reloads
 * when it changes, so a change made through any gateway applies on every other within a poll interval;
 * a request for an id the pool lacks reloads at once (a pool miss never answers 404 for a ready variant).
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../db/client.ts';
import { listAbRoutes } from '../db/queries/ab-routes.ts';
import { listModels } from '../db/queries/models.ts';
import { servingStateVersion } from '../db/queries/serving-state.ts';
import { readyVariants } from '../db/queries/variants.ts';
import type { AbRouter } from '../serving/ab-router.ts';
import type { ModelPool } from '../serving/model-pool.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { publishedVariant, type PublishedVariant } from './published-variant.ts';
import { registerVariant } from './serve-variants.ts';

/** What {@link ServingState} needs. */
export interface ServingStateDeps {
  db: Db;
  store: ObjectStore;
  pool: ModelPool;
  router: AbRouter;
  /** Local cache of variant folders, `<cacheDir>/<model id>/<variant>`. */
  cacheDir: string;
  /** How often to poll the version (ms). */
  pollMs: number;
  log?: (msg: string, err?: unknown) => void;
}

/** Least time between two reloads caused by pool misses (unknown ids must not hammer the database). */
const MISS_RELOAD_MS = 250;

/**
 * The database's serving state, mirrored into one gateway's pool and router.
 * @example const state = new ServingState({ db, store, pool, router, cacheDir, pollMs: 1000 }); await state.reload(); state.start();
 */
export class ServingState {
  private seen: string | null = null;
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private lastMiss = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly deps: ServingStateDeps) {}

  /** Polls the version every `pollMs` and reloads on a change. */
  start(): void {
    this.timer ??= setInterval(() => void this.poll().catch((err) => this.deps.log?.('flatgate: reading the serving state failed', err)), this.deps.pollMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reloads when the version differs from the one last loaded. */
  async poll(): Promise<void> {
    if ((await servingStateVersion(this.deps.db)) !== this.seen) await this.reload();
  }

  /**
   * Reloads everything from the database. Calls that overlap a running reload wait for one more that
   * starts after it, so a caller always sees writes it made before calling.
   */
  reload(): Promise<void> {
    if (!this.running) {
      this.running = this.load().finally(() => (this.running = null));
      return this.running;
    }
    this.queued ??= this.running.catch(() => undefined).then(() => {
      this.queued = null;
      return this.reload();
    });
    return this.queued;
  }

  /** Makes sure `id` is served if the database says it should be: reloads on a pool miss (rate-limited). */
  async ensure(id: string): Promise<void> {
    const { pool, router } = this.deps;
    if (pool.has(id) || router.get(id) || Date.now() - this.lastMiss < MISS_RELOAD_MS) return;
    this.lastMiss = Date.now();
    await this.reload();
  }

  private async load(): Promise<void> {
    const { db, pool, router } = this.deps;
    // the version is read first: a write landing during the load changes it again, so the next poll reloads
    const version = await servingStateVersion(db);
    const [models, ready, routes] = await Promise.all([listModels(db), readyVariants(db), listAbRoutes(db)]);
    const byId = new Map(models.map((m) => [m.id, m]));
    const want = new Map<string, PublishedVariant>();
    for (const v of ready) {
      const m = byId.get(v.modelId);
      if (m) want.set(v.id, publishedVariant(m, v));
    }
    for (const v of want.values()) registerVariant(this.deps, v, 'database');
    // not awaited: removal waits for the requests in flight on it, which must not hold up the reload
    for (const served of pool.list()) if (served.info.origin === 'database' && !want.has(served.id)) void pool.remove(served.id);
    router.restore(routes.map((r) => ({ model: r.model, arms: r.arms, shadowRate: r.shadowRate })));
    await this.removeCacheExcept(new Set(byId.keys()));
    this.seen = version;
  }

  /** Removes cache folders of models that no longer exist. */
  private async removeCacheExcept(models: Set<string>): Promise<void> {
    const entries = await readdir(this.deps.cacheDir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.isDirectory() && !models.has(e.name)) await rm(join(this.deps.cacheDir, e.name), { recursive: true, force: true });
    }
  }
}
