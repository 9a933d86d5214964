/**
 * @module The bucket layout. Uploads land under the uploads prefix (and only those start jobs); the
 * pipeline writes under `models/` and `tmp/`, which never do.
 *
 *     uploads/<anything>                          objects dropped straight into the bucket
 *     tmp/<nonce>/...                             staging: incoming HTTP uploads, variants being written
 *     models/<model-id>/original/upload.tar       the uploaded archive, once validated
 *     models/<model-id>/<variant>/hf/...          HF checkpoint folder
 *     models/<model-id>/<variant>/onnx/...        ONNX export
 *     models/<model-id>/<variant>/report.json     compression / evaluation report
 *     models/<model-id>/<variant>/manifest.json   written last: the variant is complete
 */

/** Prefix of everything the pipeline stages before publishing. */
export const STAGING_PREFIX = 'tmp/';

/** Prefix of one model's objects. */
export const modelPrefix = (modelId: string) => `models/${modelId}/`;

/** Prefix of one variant's objects. */
export const variantPrefix = (modelId: string, variant: string) => `models/${modelId}/${variant}/`;

/** Key of the validated upload archive of a model. */
export const originalArchiveKey = (modelId: string) => `models/${modelId}/original/upload.tar`;

/** Key of the manifest that marks a variant complete. */
export const manifestKey = (modelId: string, variant: string) => `${variantPrefix(modelId, variant)}manifest.json`;

/** A fresh staging prefix. */
export const stagingPrefix = (nonce: string) => `${STAGING_PREFIX}${nonce}/`;

/** Whether a key lies where the pipeline writes (such objects never start a job). */
export const isPipelineKey = (key: string) => key.startsWith('models/') || key.startsWith(STAGING_PREFIX);

/**
 * Whether `key` is a plain key: no `.`/`..` or empty segments, no backslash, no leading slash, no control
 * characters. Keys like `uploads/../models/x` name another place to some stores and tools, so intake
 * refuses them rather than guess.
 */
export function isCleanKey(key: string): boolean {
  if (key === '' || key.length > 1024 || key.startsWith('/') || key.includes('\\') || /[\u0000-\u001f\u007f]/.test(key)) return false;
  const segments = key.split('/');
  return segments.every((s, i) => s !== '.' && s !== '..' && (s !== '' || i === segments.length - 1));
}
