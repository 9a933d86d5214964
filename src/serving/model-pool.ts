/**
 * @module The models a gateway serves, by id, each with one decoder session created on first use and
 * reused by every request (each request has its own KV cache, so they never share state).
 */
import { ModelNotFound } from '../errors.ts';
import type { LoadedModel } from '../model/types.ts';
import type { DecoderSession, SessionOptions } from './session/backend.ts';
import { createDecoderSession } from './session/local-backend.ts';

/** A served model: its weights, tokenizer and (lazily) its session. */
export interface ServedModel {
  id: string;
  created: number;
  loaded: LoadedModel;
  session(): Promise<DecoderSession>;
}

/**
 * Holds served models.
 * @example
 * const pool = new ModelPool({ threads: 2 });
 * pool.add('stories260K', await loadModel(path));
 * const s = await pool.get('stories260K').session();
 */
export class ModelPool {
  private readonly models = new Map<string, ServedModel>();

  constructor(private readonly sessionOptions: SessionOptions = {}) {}

  /** Registers `loaded` under `id` (replacing any model of that id). */
  add(id: string, loaded: LoadedModel): ServedModel {
    let session: Promise<DecoderSession> | null = null;
    const served: ServedModel = {
      id,
      created: Math.floor(Date.now() / 1000),
      loaded,
      session: () => {
        session ??= createDecoderSession(loaded.model, this.sessionOptions).catch((err) => {
          session = null;
          throw err;
        });
        return session;
      },
    };
    this.models.set(id, served);
    return served;
  }

  /** The model `id`, or ModelNotFound. */
  get(id: string): ServedModel {
    const m = this.models.get(id);
    if (!m) throw new ModelNotFound(id);
    return m;
  }

  list(): ServedModel[] {
    return [...this.models.values()];
  }
}
