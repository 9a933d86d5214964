/** @module The part of s3rver 3.7 we use (it ships no types). */
declare module 's3rver' {
  import type { EventEmitter } from 'node:events';
  import type { AddressInfo } from 'node:net';

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }

  class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
    /** Koa's middleware list (composed when the server starts listening). */
    middleware: unknown[];
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    /** Creates the configured buckets (what run() does before listening). */
    configureBuckets(): Promise<void>;
    /** The Koa request handler, for a server of our own. */
    callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
    logger: { exceptions: { unhandle(): void }; close(): void };
  }
  export default S3rver;
}

/** s3rver's account registry: the key ids its own (V2-only) auth middleware knows. */
declare module 's3rver/lib/models/account.js' {
  interface AWSAccount {
    createKeyPair(accessKeyId: string, secretAccessKey: string): void;
  }
  const AWSAccount: { DUMMY_ACCOUNT: AWSAccount };
  export default AWSAccount;
}
