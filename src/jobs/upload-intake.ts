/**
 * @module HTTP upload intake: streams an archive to a staging key while hashing it and extracting it to a
 * scratch folder, validates the model with the foundation's readers, and only then moves it to
 * `models/<id>/original/` and creates the model and its job. Any failure leaves no object and no row.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { PassThrough } from 'node:stream';
import { FlatgateError, UnsupportedModel } from '../errors.ts';
import { attentionUnsupported } from '../serving/graph/support.ts';
import type { Job } from '../db/queries/jobs.ts';
import { extractModelArchive } from '../model/archive.ts';
import { checkModelFolder } from '../model/load.ts';
import { checkChatTemplate } from '../serving/chat-template.ts';
import { originalArchiveKey, stagingPrefix } from '../storage/layout.ts';
import { processTag, scratchFolder } from '../storage/scratch.ts';

/** HTTP uploads stage under `tmp/upload/<host>/<pid>-<start>/<model id>/` (see storage/scratch.ts). */
export const UPLOAD_STAGING = 'upload/';
import { assertNameFree, newModelId, registerUpload, type IntakeDeps } from './intake.ts';
import type { CompressionParams } from './params.ts';

/** An upload over the size limit. */
export class UploadTooLarge extends FlatgateError {
  readonly status = 413;
  constructor(limit: number) {
    super(`The upload is larger than the limit of ${limit} bytes`, 'upload_too_large', 'invalid_request_error', 'file');
  }
}

/** The answer to an accepted upload. */
export interface AcceptedUpload {
  model: { id: string; name: string };
  job: Job;
  sha256: string;
  bytes: number;
}

async function write(s: PassThrough, chunk: Uint8Array): Promise<void> {
  if (s.destroyed || s.write(chunk)) return;
  await new Promise<void>((done) => {
    const settle = () => {
      s.off('drain', settle).off('close', settle);
      done();
    };
    s.on('drain', settle).on('close', settle);
  });
}

/**
 * Checks an extracted upload as the worker will load it (config, headers, shapes, tokenizer) without
 * reading its weights into the gateway's memory.
 */
async function validateExtracted(root: string): Promise<void> {
  const found = await checkModelFolder(root);
  const unsupported = attentionUnsupported(found.attention);
  if (unsupported) throw new UnsupportedModel(unsupported);
  await checkChatTemplate(found.tokenizerConfig);
}

/**
 * Streams `body` (the archive's bytes) into storage and registers the model.
 * @example await receiveUpload(deps, 'tiny', params, req.body, Number(req.headers.get('content-length')));
 */
export async function receiveUpload(
  deps: IntakeDeps,
  name: string,
  params: CompressionParams,
  body: AsyncIterable<Uint8Array>,
  opts: { declaredBytes?: number; storedAt?: string; owner?: string | null } = {},
): Promise<AcceptedUpload> {
  if (opts.declaredBytes !== undefined && opts.declaredBytes > deps.maxUploadBytes) throw new UploadTooLarge(deps.maxUploadBytes);
  await assertNameFree(deps, name, opts.owner);
  const modelId = newModelId();
  const staging = opts.storedAt ?? `${stagingPrefix(`${UPLOAD_STAGING}${processTag()}/${modelId}`)}upload.tar`;
  if (!deps.dataDir) throw new Error('HTTP uploads need a data directory for their scratch space');
  const scratch = await scratchFolder(deps.dataDir, `upload-${modelId}-`);
  const toStore = new PassThrough();
  const toExtract = new PassThrough();
  let failure: unknown = null;
  // the staging upload is ended, not aborted, so that it has landed before it is deleted again
  const fail = (err: unknown) => {
    failure ??= err;
    toStore.end();
    toExtract.destroy();
  };
  const stored = opts.storedAt
    ? (toStore.resume(), Promise.resolve())
    : deps.store.put(staging, toStore, { contentType: 'application/x-tar' }).catch((e) => fail(e));
  // an archive of weights is about as large as its data; the reader also caps the compression ratio
  const maxExtracted = deps.maxExtractedBytes ?? deps.maxUploadBytes;
  const extracted = extractModelArchive(toExtract, join(scratch, 'x'), { maxBytes: maxExtracted, name: `upload '${name}'` }).then(
    async (root) => {
      await validateExtracted(root).catch((e: unknown) => {
        throw withoutPath(e, join(scratch, 'x'));
      });
      return root;
    },
    (e) => fail(e),
  );
  const hash = createHash('sha256');
  let bytes = 0;
  let finalKey: string | null = null;
  try {
    for await (const chunk of body) {
      if (failure) break;
      bytes += chunk.length;
      if (bytes > deps.maxUploadBytes) throw new UploadTooLarge(deps.maxUploadBytes);
      hash.update(chunk);
      await Promise.all([write(toStore, chunk), write(toExtract, chunk)]);
    }
    toStore.end();
    toExtract.end();
    await Promise.all([stored, extracted]);
    if (failure) throw failure;
    if (bytes === 0) throw emptyUpload();
    const sha256 = hash.digest('hex');
    finalKey = originalArchiveKey(modelId);
    await deps.store.copy(staging, finalKey);
    const head = await deps.store.head(finalKey);
    const { job } = await registerUpload(deps, { modelId, name, key: finalKey, etag: head?.etag ?? sha256, sha256, bytes, params, owner: opts.owner });
    return { model: { id: modelId, name }, job, sha256, bytes };
  } catch (err) {
    fail(err);
    await Promise.allSettled([stored, extracted]);
    if (finalKey) await deps.store.deleteKeys([finalKey]).catch(() => undefined);
    throw failure ?? err;
  } finally {
    await deps.store.deleteKeys([staging]).catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * `body` as an iterable whose early exit (break, throw) does not cancel it, so that the rest can still
 * be read with {@link discardRest}.
 */
export function uncancellable(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  return { [Symbol.asyncIterator]: () => ({ next: () => it.next() }) };
}

/** Reads and drops what is left of `body`, up to `limit` bytes (so the client gets the error, not a reset). */
export async function discardRest(body: AsyncIterable<Uint8Array>, limit = 64 * 2 ** 20): Promise<void> {
  let n = 0;
  try {
    for await (const chunk of body) if ((n += chunk.length) > limit) break;
  } catch {
    // the client went away
  }
}

/** `err` with the scratch folder taken out of its message: clients never see server paths. */
function withoutPath(err: unknown, dir: string): unknown {
  if (err instanceof FlatgateError) err.message = err.message.split(`${dir}${sep}`).join('').split(dir).join('.');
  return err;
}

function emptyUpload(): Error {
  return new FlatgateError('The upload is empty', 'empty_upload', 'invalid_request_error', 'file');
}
