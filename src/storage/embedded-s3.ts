/**
 * @module The embedded S3 server (s3rver) for local runs: binds 127.0.0.1, keeps its data on disk, and
 * reports the standard S3 event notifications of every write in-process. Every request must carry a
 * valid AWS Signature V4 for the store's one key pair (s3rver itself checks none): anyone else on the
 * machine gets 403. When the configured port is taken it takes a free one and says so.
 */
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
import AWSAccount from 's3rver/lib/models/account.js';
import { multipartCalls } from './embedded-multipart.ts';
import type { S3EventNotification } from './s3-events.ts';
import { verifySigV4, type Refusal, type S3Credentials } from './sigv4-verify.ts';

/** A running embedded server. */
export interface EmbeddedS3 {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** Calls `listener` with each event notification (`{ Records: [...] }`). */
  onEvent(listener: (event: S3EventNotification) => void): void;
  close(): Promise<void>;
}

const xml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

function refuse(res: ServerResponse, r: Refusal): void {
  res.writeHead(403, { 'content-type': 'application/xml', connection: 'close' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${r.code}</Code><Message>${xml(r.message)}</Message></Error>`);
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((ok, fail) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      fail(err);
    };
    const onListening = () => {
      server.off('error', onError);
      ok((server.address() as AddressInfo).port);
    };
    server.once('error', onError).once('listening', onListening).listen(port, '127.0.0.1');
  });
}

/**
 * Starts s3rver with `bucket` created, storing objects under `directory`, answering only requests signed
 * with `credentials`.
 * @example const s3 = await startEmbeddedS3({ directory: 'data/s3', bucket: 'flatgate', port: 0, credentials });
 */
export async function startEmbeddedS3(opts: {
  directory: string;
  bucket: string;
  port?: number;
  credentials: S3Credentials;
  log?: (msg: string) => void;
}): Promise<EmbeddedS3> {
  await mkdir(opts.directory, { recursive: true });
  const s3rver = new S3rver({ silent: true, directory: opts.directory, configureBuckets: [{ name: opts.bucket }] });
  // s3rver looks the key id up in its account registry after our check; the signature is ours to verify
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(opts.credentials.accessKeyId, opts.credentials.secretAccessKey);
  await s3rver.configureBuckets();
  // before s3rver's router, which answers these two calls "not implemented" (and after the signature check below)
  s3rver.middleware.splice(s3rver.middleware.length - 1, 0, multipartCalls(opts.directory));
  const handle = s3rver.callback();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const refusal = verifySigV4({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }, opts.credentials);
    if (refusal) {
      req.resume();
      refuse(res, refusal);
      return;
    }
    handle(req, res);
  });
  const wanted = opts.port ?? 0;
  let port: number;
  try {
    port = await listen(server, wanted);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || wanted === 0) throw err;
    port = await listen(server, 0);
    (opts.log ?? console.log)(`flatgate: embedded S3 port ${wanted} is taken; using ${port} instead`);
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    onEvent: (listener) => s3rver.on('event', listener),
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }).finally(() => {
        s3rver.logger.exceptions.unhandle();
        s3rver.logger.close();
      }),
  };
}
