/**
 * @module The object store over a Cloudflare R2 binding: the subset of {@link ObjectStore} that the
 * Worker's routes and intake call (bucket, head, put, getBytes, list, deleteKeys, deletePrefix), plus a
 * streamed put of a request body of known length. No S3 API, so it also runs under `wrangler dev`, whose
 * local R2 has no S3 endpoint.
 */
import type { R2Bucket } from '@cloudflare/workers-types/latest/index.ts';
import type { ObjectInfo, ObjectStore } from './object-store.ts';

/** The methods of {@link ObjectStore} the Worker uses; the R2 store provides exactly these. */
export type WorkerObjectStore = Pick<ObjectStore, 'bucket' | 'head' | 'getBytes' | 'list' | 'deleteKeys' | 'deletePrefix'>;

/** What {@link R2ObjectStore.putStream} reports: the object, and the SHA-256 of its bytes. */
export interface StreamedObject extends ObjectInfo {
  sha256: string;
}

/** workerd's non-standard stream classes (globals in a Worker, absent from Node's types). */
interface WorkerdStreams {
  FixedLengthStream: new (length: number) => TransformStream<Uint8Array, Uint8Array>;
}
interface WorkerdCrypto {
  DigestStream: new (algorithm: string) => WritableStream<Uint8Array> & { digest: Promise<ArrayBuffer> };
}

const hex = (buf: ArrayBuffer) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');

/**
 * A bucket behind an R2 binding, seen as a key-value store.
 * @example
 * const store = new R2ObjectStore(env.BUCKET, 'flatgate');
 * const info = await store.head('uploads/tiny.tar');
 */
export class R2ObjectStore implements WorkerObjectStore {
  /**
   * @param r2 the binding
   * @param bucket the bucket's name (bucket events name it; the binding does not know it)
   */
  constructor(
    private readonly r2: R2Bucket,
    readonly bucket: string,
  ) {}

  /** Size and etag of `key`, or null when there is no such object. */
  async head(key: string): Promise<ObjectInfo | null> {
    const o = await this.r2.head(key);
    return o ? { key, size: o.size, etag: o.etag } : null;
  }

  /** Writes a small object. */
  async put(key: string, body: Uint8Array | string, opts: { contentType?: string } = {}): Promise<ObjectInfo> {
    const o = await this.r2.put(key, body, { httpMetadata: opts.contentType ? { contentType: opts.contentType } : undefined });
    return { key, size: o!.size, etag: o!.etag };
  }

  /**
   * Streams `body` (exactly `length` bytes, e.g. a request body) into `key` while hashing it; a body of
   * another length fails and leaves no object.
   */
  async putStream(key: string, body: ReadableStream<Uint8Array>, length: number, opts: { contentType?: string } = {}): Promise<StreamedObject> {
    const { FixedLengthStream } = globalThis as unknown as WorkerdStreams;
    const { DigestStream } = crypto as unknown as WorkerdCrypto;
    const [toStore, toHash] = body.tee();
    const digest = new DigestStream('SHA-256');
    const fixed = toStore.pipeThrough(new FixedLengthStream(length));
    const [o] = await Promise.all([
      this.r2.put(key, fixed as never, { httpMetadata: opts.contentType ? { contentType: opts.contentType } : undefined }),
      toHash.pipeTo(digest),
    ]);
    return { key, size: o!.size, etag: o!.etag, sha256: hex(await digest.digest) };
  }

  /** The object at `key` as bytes (for small objects: manifests, reports). */
  async getBytes(key: string): Promise<Uint8Array> {
    const o = await this.r2.get(key);
    if (!o) throw new Error(`No object '${key}' in bucket '${this.bucket}'`);
    return new Uint8Array(await o.arrayBuffer());
  }

  /** Every object under `prefix`. */
  async list(prefix: string): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    for (let cursor: string | undefined, more = true; more; ) {
      const page = await this.r2.list({ prefix, cursor });
      found.push(...page.objects.map((o) => ({ key: o.key, size: o.size, etag: o.etag })));
      more = page.truncated;
      cursor = page.truncated ? page.cursor : undefined;
    }
    return found;
  }

  /** Deletes the given keys (missing ones are fine), up to 1000 per call as R2 allows. */
  async deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) await this.r2.delete(keys.slice(i, i + 1000));
  }

  /** Deletes every object under `prefix`. */
  async deletePrefix(prefix: string): Promise<void> {
    await this.deleteKeys((await this.list(prefix)).map((o) => o.key));
  }
}
