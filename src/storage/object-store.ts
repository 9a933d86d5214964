/**
 * @module The object-store client: every read and write of model objects goes through @aws-sdk/client-s3
 * (multipart uploads through lib-storage), so S3, R2, MinIO and the embedded server work unchanged.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  AbortMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  NotFound,
  PutObjectCommand,
  S3Client,
  type _Object,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';

/** Where and how to reach the bucket. */
export interface S3Settings {
  endpoint: string | null;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
}

/** What HEAD tells about an object. */
export interface ObjectInfo {
  key: string;
  size: number;
  etag: string;
  /** Epoch milliseconds (listings only). */
  lastModified?: number;
}

/** A multipart upload started and neither completed nor aborted. */
export interface OpenMultipartUpload {
  key: string;
  uploadId: string;
  /** Epoch milliseconds. */
  initiated: number;
}

/** Object bodies we accept for writing. */
export type ObjectBody = Uint8Array | string | Readable;

/** Creates the S3 client for `s`, with the checksum settings s3rver needs (harmless elsewhere). */
export function createS3Client(s: S3Settings): S3Client {
  return new S3Client({
    endpoint: s.endpoint ?? undefined,
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

const unquote = (etag: string | undefined) => (etag ?? '').replace(/"/g, '');

/**
 * A bucket, seen as a key-value store of streams.
 * @example
 * const store = new ObjectStore(settings);
 * await store.put('models/m1/original/upload.tar.gz', createReadStream(file));
 */
export class ObjectStore {
  readonly client: S3Client;
  readonly bucket: string;

  constructor(settings: S3Settings, client?: S3Client) {
    this.client = client ?? createS3Client(settings);
    this.bucket = settings.bucket;
  }

  /** Writes `body` at `key`; streams go up in 8 MiB parts, so memory stays bounded whatever the size. */
  async put(key: string, body: ObjectBody, opts: { contentType?: string; signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    if (!(body instanceof Readable)) {
      const out = await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: opts.contentType }));
      return { key, size: typeof body === 'string' ? Buffer.byteLength(body) : body.length, etag: unquote(out.ETag) };
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: opts.contentType },
      partSize: 8 * 2 ** 20,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const abort = () => void upload.abort().catch(() => undefined);
    opts.signal?.addEventListener('abort', abort, { once: true });
    try {
      await upload.done();
    } finally {
      opts.signal?.removeEventListener('abort', abort);
    }
    return this.head(key) as Promise<ObjectInfo>;
  }

  /** The object at `key` as a Node stream. */
  async get(key: string): Promise<Readable> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return out.Body as Readable;
  }

  /** The object at `key` as bytes (for small objects: manifests, reports). */
  async getBytes(key: string): Promise<Uint8Array> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return out.Body!.transformToByteArray();
  }

  /** Size and etag of `key`, or null when there is no such object. */
  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: out.ContentLength ?? 0, etag: unquote(out.ETag) };
    } catch (err) {
      if (err instanceof NotFound || (err as { name?: string }).name === 'NotFound') return null;
      throw err;
    }
  }

  /** Copies `from` to `to` inside the bucket (server side). */
  async copy(from: string, to: string): Promise<void> {
    await this.client.send(
      new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}` }),
    );
  }

  /**
   * Every object under `prefix`. Pages with ListObjects (v1) markers: s3rver encrypts v2 continuation
   * tokens with DES, which Node 20's OpenSSL refuses, so any truncated v2 listing fails there.
   */
  async list(prefix: string): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    for (let after: string | undefined, more = true; more; ) {
      const out = await this.client.send(new ListObjectsCommand({ Bucket: this.bucket, Prefix: prefix, Marker: after }));
      const page = (out.Contents ?? []).map((o: _Object) => ({ key: o.Key!, size: o.Size ?? 0, etag: unquote(o.ETag), lastModified: o.LastModified?.getTime() }));
      found.push(...page);
      more = Boolean(out.IsTruncated) && page.length > 0;
      after = page.at(-1)?.key;
    }
    return found;
  }

  /** Deletes the given keys (missing ones are fine), a few at a time. */
  async deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 8) {
      await Promise.all(keys.slice(i, i + 8).map((Key) => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }))));
    }
  }

  /** Deletes every object under `prefix`. */
  async deletePrefix(prefix: string): Promise<void> {
    await this.deleteKeys((await this.list(prefix)).map((o) => o.key));
  }

  /** Multipart uploads under `prefix` that were started and never completed or aborted. */
  async openMultipartUploads(prefix: string): Promise<OpenMultipartUpload[]> {
    const found: OpenMultipartUpload[] = [];
    for (let keyMarker: string | undefined, idMarker: string | undefined, more = true; more; ) {
      const out = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
      for (const u of out.Uploads ?? []) found.push({ key: u.Key!, uploadId: u.UploadId!, initiated: u.Initiated?.getTime() ?? 0 });
      more = Boolean(out.IsTruncated) && (out.Uploads?.length ?? 0) > 0;
      keyMarker = out.NextKeyMarker;
      idMarker = out.NextUploadIdMarker;
    }
    return found;
  }

  /** Abandons a multipart upload (its parts are discarded); an unknown one is fine. */
  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (err) {
      if ((err as { name?: string }).name !== 'NoSuchUpload') throw err;
    }
  }
}
