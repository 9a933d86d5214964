/**
 * @module The embedded S3 server (s3rver) for local runs: binds 127.0.0.1, keeps its data on disk, and
 * reports the standard S3 event notifications of every write in-process.
 */
import { mkdir } from 'node:fs/promises';
import S3rver from 's3rver';
import { multipartCalls } from './embedded-multipart.ts';
import type { S3EventNotification } from './s3-events.ts';

/** A running embedded server. */
export interface EmbeddedS3 {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** Calls `listener` with each event notification (`{ Records: [...] }`). */
  onEvent(listener: (event: S3EventNotification) => void): void;
  close(): Promise<void>;
}

/**
 * Starts s3rver with `bucket` created, storing objects under `directory`.
 * @example const s3 = await startEmbeddedS3({ directory: 'data/s3', bucket: 'flatgate', port: 0 });
 */
export async function startEmbeddedS3(opts: { directory: string; bucket: string; port?: number }): Promise<EmbeddedS3> {
  await mkdir(opts.directory, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: opts.port ?? 0,
    silent: true,
    directory: opts.directory,
    configureBuckets: [{ name: opts.bucket }],
  });
  // before s3rver's router, which answers these two calls "not implemented"
  server.middleware.splice(server.middleware.length - 1, 0, multipartCalls(opts.directory));
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    onEvent: (listener) => server.on('event', listener),
    close: () => server.close(),
  };
}
