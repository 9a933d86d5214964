/**
 * @module The models a gateway serves, by id: originals (`<name>`) and their variants
 * (`<name>:<variant>`). Weights and sessions load lazily on first use and are reused by every request
 * (each request has its own KV cache); loaded variants are evicted least-recently-used when their
 * estimated memory exceeds the pool's budget. Each variant has its own scheduler.
 */
import { ModelNotFound, VariantNotReady } from '../errors.ts';
import { countParams, type LoadedModel } from '../model/types.ts';
import { ContinuousBatcher } from './generate/batcher.ts';
import { Scheduler, type SchedulerLimits } from './scheduler.ts';
import type { DecoderSession, SessionOptions } from './session/backend.ts';
import { createDecoderSession } from './session/local-backend.ts';

/** What is known of a served model without loading it. */
export interface ServedModelInfo {
  /** The original's id for a variant, null for an original. */
  parent: string | null;
  /** 'original', 'flattengpt', 'shortgpt', ... */
  method: string;
  /** Unix seconds. */
  created?: number;
  /** Not ready yet (e.g. still compressing): requests get 503. */
  pending?: string;
  /** Facts for listings and comparisons, known without loading the weights. */
  layers?: number;
  params?: number;
  /** Size of the checkpoint on disk / in the object store. */
  bytes?: number;
  /** Offline evaluation from the compression job: `{ ppl, tasks, agreement }`. */
  evaluation?: Record<string, unknown> | null;
  /** The owner of the key that uploaded it; null or absent: served to every key. */
  owner?: string | null;
  /** Where its files come from (`<model id>/<variant>` in the bucket), to recognise a re-registration. */
  source?: string;
  /**
   * Who registered it: `database` (mirrored from the database: removed when its row goes), `announced`
   * (told by another node over /v1/worker/serve), absent for models added in-process (the demo model).
   */
  origin?: 'database' | 'announced';
}

/** A served model: metadata, its scheduler, and lazy access to weights and session. */
export interface ServedModel {
  readonly id: string;
  readonly created: number;
  readonly info: ServedModelInfo;
  readonly scheduler: Scheduler;
  /** Weights and tokenizer, loading them if needed. */
  loaded(): Promise<LoadedModel>;
  /** The decoder session, creating it if needed. */
  session(): Promise<DecoderSession>;
  /** The continuous batcher over the session, which every generation on this variant goes through. */
  batcher(): Promise<ContinuousBatcher>;
  /** Whether weights are in memory now. */
  readonly resident: boolean;
}

/** Pool options. */
export interface ModelPoolOptions {
  session?: SessionOptions;
  /**
   * Budget for resident variants, estimated at 12 bytes a parameter: the float32 weights (4) and the
   * engine's copy with its prepacked matrices (about 8 while the session is created; measured on the
   * 124.7M shape: +989 MiB at creation, +784 MiB after).
   */
  maxResidentBytes?: number;
  /** Per variant: `concurrency` requests at once (the batch size), `queue` waiting, 429 above. */
  limits?: SchedulerLimits;
  /**
   * Per variant: the most KV-cache bytes its batch may hold. The batch gets as many rows (up to
   * `limits.concurrency`) as fit when every row reaches the model's full context; further requests wait.
   */
  maxKvBytes?: number;
}

class Entry implements ServedModel {
  readonly created: number;
  readonly scheduler: Scheduler;
  lastUsed = 0;
  bytes = 0;
  private weights: Promise<LoadedModel> | null = null;
  private decoder: Promise<DecoderSession> | null = null;
  private batching: Promise<ContinuousBatcher> | null = null;

  constructor(
    readonly id: string,
    readonly info: ServedModelInfo,
    private readonly load: () => Promise<LoadedModel>,
    private readonly pool: ModelPool,
    private readonly sessionOptions: SessionOptions,
    private readonly limits: SchedulerLimits,
    private readonly maxKvBytes: number,
  ) {
    this.created = info.created ?? Math.floor(Date.now() / 1000);
    this.scheduler = new Scheduler(limits);
  }

  get resident(): boolean {
    return this.weights !== null;
  }

  loaded(): Promise<LoadedModel> {
    if (this.info.pending) throw new VariantNotReady(this.id, this.info.pending);
    this.lastUsed = performance.now();
    this.weights ??= this.load().then(
      (m) => {
        this.bytes = countParams(m.model) * 12;
        this.pool.evictFor(this);
        return m;
      },
      (err) => {
        this.weights = null;
        throw err;
      },
    );
    return this.weights;
  }

  session(): Promise<DecoderSession> {
    this.lastUsed = performance.now();
    this.decoder ??= this.loaded()
      .then((m) => createDecoderSession(m.model, this.sessionOptions))
      .catch((err) => {
        this.decoder = null;
        throw err;
      });
    return this.decoder;
  }

  batcher(): Promise<ContinuousBatcher> {
    this.batching ??= Promise.all([this.loaded(), this.session()])
      .then(([{ model }, decoder]) => {
        const c = model.config;
        const rowBytes = 2 * model.layers.length * c.numKvHeads * c.headDim * c.maxPositions * 4;
        const rows = Math.max(1, Math.min(this.limits.concurrency, Math.floor(this.maxKvBytes / rowBytes)));
        return new ContinuousBatcher(decoder, rows);
      })
      .catch((err) => {
        this.batching = null;
        throw err;
      });
    return this.batching;
  }

  /**
   * Drops weights and session; the next request loads them again. The session is released only once the
   * requests holding a slot have finished, so replacing or removing a model never pulls it from under them.
   */
  async evict(): Promise<void> {
    const decoder = this.decoder;
    const batching = this.batching;
    this.decoder = null;
    this.batching = null;
    this.weights = null;
    this.bytes = 0;
    await this.scheduler.idle();
    await (await batching?.catch(() => null))?.idle();
    if (decoder) await (await decoder.catch(() => null))?.release();
  }
}

/**
 * Holds served models.
 * @example
 * const pool = new ModelPool({ session: { threads: 2 } });
 * pool.add('stories260K', await loadModel(path));
 * const s = await pool.get('stories260K').session();
 */
export class ModelPool {
  private readonly models = new Map<string, Entry>();

  constructor(private readonly opts: ModelPoolOptions = {}) {}

  /** Registers a model whose weights `load` provides on first use. Replaces any model of that id. */
  register(id: string, info: ServedModelInfo, load: () => Promise<LoadedModel>): ServedModel {
    const old = this.models.get(id);
    if (old) void old.evict();
    const limits = this.opts.limits ?? { concurrency: 4, queue: 64 };
    const entry = new Entry(id, info, load, this, this.opts.session ?? {}, limits, this.opts.maxKvBytes ?? 1 << 30);
    this.models.set(id, entry);
    return entry;
  }

  /** Registers an already loaded model as an original. */
  add(id: string, loaded: LoadedModel, info: ServedModelInfo = { parent: null, method: 'original' }): ServedModel {
    return this.register(id, info, async () => loaded);
  }

  /** The model `id`, or ModelNotFound. */
  get(id: string): ServedModel {
    const m = this.models.get(id);
    if (!m) throw new ModelNotFound(id);
    return m;
  }

  has(id: string): boolean {
    return this.models.has(id);
  }

  list(): ServedModel[] {
    return [...this.models.values()];
  }

  /** The variants of an original (the original first). */
  family(id: string): ServedModel[] {
    return this.list().filter((m) => m.id === id || m.info.parent === id);
  }

  async remove(id: string): Promise<void> {
    const m = this.models.get(id);
    this.models.delete(id);
    await m?.evict();
  }

  /** Evicts least-recently-used idle variants until `keep` fits the budget. */
  evictFor(keep: Entry): void {
    const budget = this.opts.maxResidentBytes;
    if (!budget) return;
    const resident = [...this.models.values()].filter((m) => m.resident && m !== keep).sort((a, b) => a.lastUsed - b.lastUsed);
    let total = keep.bytes + resident.reduce((s, m) => s + m.bytes, 0);
    for (const m of resident) {
      if (total <= budget) break;
      if (m.scheduler.load.running > 0) continue;
      total -= m.bytes;
      void m.evict();
    }
  }
}
