/**
 * @module Makes published variants servable: registers each in the model pool as `<name>` (the
 * original) or `<name>:<variant>`; its HF folder is downloaded into a local cache on first use.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../db/client.ts';
import { FlatgateError } from '../errors.ts';
import { findModel } from '../db/queries/models.ts';
import { variantsOfModel, type VariantRow } from '../db/queries/variants.ts';
import { publishedVariant, type PublishedVariant } from './published-variant.ts';
import { loadModel } from '../model/load.ts';
import type { ModelPool, ServedModelInfo } from '../serving/model-pool.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { downloadVariant, readManifest } from '../storage/publish-folder.ts';

export { servedId } from './published-variant.ts';

/**
 * Registers every ready variant of `modelId` in `pool` (replacing older entries). Weights are fetched
 * from the bucket into `cacheDir` and loaded on first use.
 * @example await serveVariants({ db, store, pool, cacheDir: 'data/cache' }, 'mdl_1');
 */
export async function serveVariants(deps: ServeDeps, modelId: string): Promise<string[]> {
  const model = await findModel(deps.db, modelId);
  if (!model) return [];
  const served: string[] = [];
  for (const v of (await variantsOfModel(deps.db, modelId)).filter((x: VariantRow) => x.status === 'ready')) {
    registerVariant(deps, publishedVariant(model, v));
    served.push(v.id);
  }
  return served;
}

/** What {@link registerVariant} needs: the pool, the bucket and a local cache folder. */
export interface ServeDeps {
  db: Db;
  store: ObjectStore;
  pool: ModelPool;
  cacheDir: string;
}

/**
 * Registers one published variant in the pool; its HF folder is fetched from the bucket on first use.
 * Registering the same variant again with the same files keeps what is loaded.
 */
export function registerVariant(deps: Omit<ServeDeps, 'db'>, v: PublishedVariant): void {
  if (deps.pool.has(v.id) && sameVariant(deps.pool.get(v.id).info, v)) return;
  // an uploaded model never replaces one the entry serves from elsewhere (the demo model), nor one of another owner
  if (deps.pool.has(v.id)) {
    const held = deps.pool.get(v.id).info;
    if (held.source === undefined || (held.owner ?? null) !== (v.owner ?? null)) throw new NameHeld(v.id);
  }
  const dir = join(deps.cacheDir, v.modelId, v.variant);
  const load = async () => {
    const manifest = await readManifest(deps.store, v.modelId, v.variant);
    if (!manifest) throw new VariantMissing(v.id);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await downloadVariant(deps.store, manifest, 'hf', dir);
    return loadModel(dir);
  };
  const { id: _id, modelId: _m, variant: _v, ...info } = v;
  deps.pool.register(v.id, { ...info, source: `${v.modelId}/${v.variant}` }, load);
}

function sameVariant(info: ServedModelInfo, v: PublishedVariant): boolean {
  return info.source === `${v.modelId}/${v.variant}` && info.created === v.created;
}

/** A variant recorded as ready whose files are not (or no longer) in the bucket. */
export class VariantMissing extends FlatgateError {
  constructor(id: string) {
    super(`The files of '${id}' are missing from object storage`, 'variant_missing', 'server_error');
  }
}

/** A variant whose served id is held by a model of another owner or served from outside the bucket. */
export class NameHeld extends FlatgateError {
  constructor(id: string) {
    super(`The served id '${id}' is held by another model`, 'model_exists', 'server_error');
  }
}
