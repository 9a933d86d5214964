/**
 * @module Gateways as real processes (`node --import tsx src/server.ts`, what `npm start` runs), for the
 * multi-gateway and crash tests: each with its own port and data directory, all pointed at one database
 * file and one S3 server through the environment, exactly as README's multi-gateway section says.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('../../src/server.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A running gateway process. */
export interface GatewayProcess {
  name: string;
  url: string;
  child: ChildProcess;
  logs: string[];
  /** SIGTERM, and wait for it to exit. */
  stop(): Promise<void>;
  /** SIGKILL the gateway (only it: its embedded worker must notice on its own), and wait for it to exit. */
  crash(): Promise<void>;
  /** Pids of the embedded workers it started (from their start-up lines). */
  workerPids(): number[];
}

/** What every gateway of a test shares: the database file and the bucket. */
export interface SharedStores {
  databaseUrl: string;
  s3Endpoint: string;
  bucket: string;
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));

/**
 * Starts `tsx src/server.ts` on a free port with data in `dataDir`, sharing `shared`.
 * @example const a = await startGatewayProcess('A', dirA, shared, { FLATGATE_EMBEDDED_WORKER: 'true' });
 */
export async function startGatewayProcess(name: string, dataDir: string, shared: SharedStores, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), SERVER], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      HOST: '127.0.0.1',
      FLATGATE_DATA_DIR: dataDir,
      FLATGATE_DATABASE_URL: shared.databaseUrl,
      FLATGATE_S3_ENDPOINT: shared.s3Endpoint,
      FLATGATE_S3_BUCKET: shared.bucket,
      FLATGATE_S3_ACCESS_KEY_ID: 'S3RVER',
      FLATGATE_S3_SECRET_ACCESS_KEY: 'S3RVER',
      FLATGATE_WORKER_TOKEN: 'multi-gateway-worker-token',
      FLATGATE_AUTH: 'open',
      FLATGATE_DEMO_MODEL: 'none',
      FLATGATE_THREADS: '1',
      FLATGATE_EMBEDDED_WORKER: 'false',
      ...env,
    },
  });
  const logs: string[] = [];
  child.stdout!.on('data', (d) => logs.push(`[${name}] ${d}`));
  child.stderr!.on('data', (d) => logs.push(`[${name}!] ${d}`));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway ${name} did not start:\n${logs.join('')}`)), 60_000);
    const look = () => {
      const m = /flatgate listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(logs.join(''));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', look);
    child.once('exit', (code) => reject(new Error(`gateway ${name} exited (${code}):\n${logs.join('')}`)));
  });
  const workerPids = () => {
    const pids = new Set<number>();
    for (const m of logs.join('').matchAll(/flatgate worker \S+-(\d+) pulling jobs/g)) pids.add(Number(m[1]));
    return [...pids];
  };
  return {
    name,
    url,
    child,
    logs,
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
    },
    async crash() {
      child.kill('SIGKILL');
      await exited(child);
    },
    workerPids,
  };
}

/** Polls `check` until it returns a value (not undefined) or the timeout passes. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`${what} did not hold within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
