/**
 * @module Presigned multipart uploads: the client PUTs parts straight to the bucket with URLs the gateway
 * signs, then asks the gateway to complete the upload.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ObjectStore } from './object-store.ts';

/** A started multipart upload with one presigned PUT URL per part. */
export interface PresignedMultipart {
  key: string;
  uploadId: string;
  partSize: number;
  parts: { partNumber: number; url: string }[];
}

/** Smallest part S3 accepts (except the last one). */
export const MIN_PART_BYTES = 5 * 2 ** 20;

/**
 * Starts a multipart upload of `size` bytes at `key` and presigns its parts (valid `expiresIn` seconds).
 * @example const up = await presignMultipart(store, 'tmp/abc/upload', 3e9);
 */
export async function presignMultipart(store: ObjectStore, key: string, size: number, opts: { partSize?: number; expiresIn?: number } = {}): Promise<PresignedMultipart> {
  const partSize = Math.max(MIN_PART_BYTES, opts.partSize ?? 64 * 2 ** 20, Math.ceil(size / 10_000));
  const count = Math.max(1, Math.ceil(size / partSize));
  const out = await store.client.send(new CreateMultipartUploadCommand({ Bucket: store.bucket, Key: key }));
  const uploadId = out.UploadId!;
  const parts = [];
  for (let partNumber = 1; partNumber <= count; partNumber++) {
    const cmd = new UploadPartCommand({ Bucket: store.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber });
    parts.push({ partNumber, url: await getSignedUrl(store.client, cmd, { expiresIn: opts.expiresIn ?? 3600 }) });
  }
  return { key, uploadId, partSize, parts };
}

/** Completes the upload from the parts' ETags, as the client reported them. */
export async function completeMultipart(store: ObjectStore, key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<void> {
  await store.client.send(
    new CompleteMultipartUploadCommand({
      Bucket: store.bucket,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: [...parts].sort((a, b) => a.partNumber - b.partNumber).map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
    }),
  );
}

/** Abandons the upload (its parts are discarded). */
export async function abortMultipart(store: ObjectStore, key: string, uploadId: string): Promise<void> {
  await store.client.send(new AbortMultipartUploadCommand({ Bucket: store.bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
}
