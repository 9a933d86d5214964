/**
 * @module Makes a published variant servable: registers it in the model pool as `<name>` (the
 * original) or `<name>:<variant>`; its HF folder is downloaded from the bucket into a local cache
 * folder (`<cacheDir>/<model id>/<variant>`) on first use.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FlatgateError } from '../errors.ts';
import type { PublishedVariant } from './published-variant.ts';
import { loadModel } from '../model/load.ts';
import type { ModelPool, ServedModelInfo } from '../serving/model-pool.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { downloadVariant, readManifest } from '../storage/publish-folder.ts';

export { servedId } from './published-variant.ts';

/** What {@link registerVariant} needs: the pool, the bucket and a local cache folder. */
export interface ServeDeps {
  store: ObjectStore;
  pool: ModelPool;
  cacheDir: string;
}

/**
 * Registers one published variant in the pool; its HF folder is fetched from the bucket on first use.
 * Registering the same variant again with the same files keeps what is loaded.
 */
export function registerVariant(deps: ServeDeps, v: PublishedVariant, origin: ServedModelInfo['origin'] = 'database'): void {
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
    // the folder stays while the variant is served: its matrices are read when the session is built and
    // then left to the engine's copy, instead of a second float32 copy held for the variant's lifetime
    return loadModel(dir, { weightsOnAccess: true });
  };
  const { id: _id, modelId: _m, variant: _v, ...info } = v;
  deps.pool.register(v.id, { ...info, source: `${v.modelId}/${v.variant}`, origin }, load);
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
