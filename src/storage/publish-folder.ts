/**
 * @module Publishes a local folder as a variant: every file goes to a staging prefix first, is then copied
 * under the variant's prefix, and the manifest is written last, so a crash at any point leaves either
 * nothing visible or files without a manifest, which never count as a finished variant.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { manifestKey, stagingPrefix, variantPrefix } from './layout.ts';
import type { ObjectStore } from './object-store.ts';

/** The manifest of a published variant. */
export interface VariantManifest {
  modelId: string;
  variant: string;
  files: { path: string; bytes: number }[];
  bytes: number;
  publishedAt: string;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

/**
 * Uploads `dir` as `models/<modelId>/<variant>/` and returns its manifest. Older files inside the
 * folders it writes (a previous attempt's shards) are removed; other objects beside them (the original's
 * upload archive) are kept. `nonce` names the staging
 * prefix (use the job id and attempt, so a retry never mixes with a dead attempt's files).
 * @example await publishFolder(store, 'out/flattengpt-25', 'mdl_1', 'flattengpt-25', 'job_1-2');
 */
export async function publishFolder(store: ObjectStore, dir: string, modelId: string, variant: string, nonce: string): Promise<VariantManifest> {
  const staging = stagingPrefix(`${nonce}/${variant}`);
  const files: VariantManifest['files'] = [];
  for (const path of await filesUnder(dir)) {
    const info = await store.put(staging + path, createReadStream(join(dir, path)));
    files.push({ path, bytes: info.size });
  }
  const final = variantPrefix(modelId, variant);
  const folders = new Set(files.filter((f) => f.path.includes('/')).map((f) => final + f.path.slice(0, f.path.indexOf('/') + 1)));
  const written = new Set(files.map((f) => final + f.path));
  const stale = (await store.list(final)).map((o) => o.key).filter((k) => !written.has(k) && [...folders].some((d) => k.startsWith(d)));
  await store.deleteKeys([manifestKey(modelId, variant), ...stale]);
  for (const f of files) await store.copy(staging + f.path, final + f.path);
  const manifest: VariantManifest = {
    modelId,
    variant,
    files,
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    publishedAt: new Date().toISOString(),
  };
  await store.put(manifestKey(modelId, variant), JSON.stringify(manifest, null, 2), { contentType: 'application/json' });
  await store.deletePrefix(staging);
  return manifest;
}

/** The manifest of a published variant, or null when it is missing (never finished). */
export async function readManifest(store: ObjectStore, modelId: string, variant: string): Promise<VariantManifest | null> {
  if (!(await store.head(manifestKey(modelId, variant)))) return null;
  return JSON.parse(Buffer.from(await store.getBytes(manifestKey(modelId, variant))).toString('utf8')) as VariantManifest;
}

/** Downloads a published variant's files under `subdir` (e.g. 'hf') into `dest`. */
export async function downloadVariant(store: ObjectStore, manifest: VariantManifest, subdir: string, dest: string): Promise<void> {
  const prefix = variantPrefix(manifest.modelId, manifest.variant);
  for (const f of manifest.files.filter((x) => x.path.startsWith(`${subdir}/`))) {
    const target = join(dest, f.path.slice(subdir.length + 1));
    await mkdir(dirname(target), { recursive: true });
    await pipeline(await store.get(prefix + f.path), createWriteStream(target));
  }
}
