/**
 * @module Runs the pinned wrangler offline against a copy of the repository's wrangler.toml in a temp
 * folder (paths made absolute), so that wrangler's `.wrangler/` state, logs and config stay in
 * os.tmpdir(): `deploy --dry-run`, `d1 migrations apply --local`, `r2 object put --local`, and
 * `wrangler dev` in its own process group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');

/** A temp folder holding the derived config, wrangler's state and its logs. */
export interface WranglerSandbox {
  dir: string;
  config: string;
  /** The environment every wrangler command runs with (no metrics, no login, no cf.json fetch). */
  env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

/** Copies wrangler.toml into a temp folder with its paths made absolute; fails if a path key moved. */
export async function wranglerSandbox(): Promise<WranglerSandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'flatgate-wrangler-'));
  let toml = await readFile(join(ROOT, 'wrangler.toml'), 'utf8');
  for (const key of ['main', 'migrations_dir', 'image', 'image_build_context']) {
    const re = new RegExp(`^(${key}\\s*=\\s*)"([^"]+)"`, 'm');
    if (!re.test(toml)) throw new Error(`wrangler.toml has no ${key}`);
    toml = toml.replace(re, (_m, lhs: string, path: string) => `${lhs}${JSON.stringify(resolve(ROOT, path))}`);
  }
  const config = join(dir, 'wrangler.toml');
  await writeFile(config, toml);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WRANGLER_SEND_METRICS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_LOG_PATH: join(dir, 'logs'),
    XDG_CONFIG_HOME: join(dir, 'xdg'),
    CI: '1',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  };
  delete env.CLOUDFLARE_API_TOKEN;
  delete env.CLOUDFLARE_ACCOUNT_ID;
  return { dir, config, env, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs `wrangler ...args` to the end; resolves with its exit code and output (never rejects on failure). */
export function runWrangler(sb: WranglerSandbox, args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((done, fail) => {
    const child = spawn(WRANGLER, [...args, '-c', sb.config], { cwd: sb.dir, env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, out });
    });
  });
}

/** Applies the D1 migrations to a local state folder `sb.dir/state`; returns it and wrangler's output. */
export async function migrateLocalD1(sb: WranglerSandbox): Promise<{ state: string; code: number | null; out: string }> {
  const state = join(sb.dir, 'state');
  return { state, ...(await runWrangler(sb, ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state])) };
}

/** Starts `server` on a free port of 127.0.0.1; resolves with its base URL. */
export async function listenLocal(server: { listen(port: number, host: string, done: () => void): unknown; address(): unknown }): Promise<string> {
  await new Promise<void>((d) => server.listen(0, '127.0.0.1', () => d()));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}

/** A running `wrangler dev`. */
export interface WranglerDev {
  url: string;
  /** Everything it printed so far. */
  output(): string;
  /** Kills its whole process group (wrangler leaves workerd children behind otherwise). */
  stop(): Promise<void>;
}

/** Starts `wrangler dev` on 127.0.0.1 and waits until `/health` answers. */
export async function startWranglerDev(sb: WranglerSandbox, args: string[], timeoutMs = 45_000): Promise<WranglerDev> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    WRANGLER,
    ['dev', '-c', sb.config, '--ip', '127.0.0.1', '--port', String(port), '--show-interactive-dev-session=false', '--log-level', 'info', ...args],
    { cwd: sb.dir, env: sb.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((done) => child.on('exit', () => done()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    const killed = await Promise.race([exited.then(() => true), new Promise((d) => setTimeout(() => d(false), 5000))]);
    if (!killed) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${out}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((d) => setTimeout(d, 250));
  }
  return { url, output: () => out, stop };
}

/**
 * The gateway Worker under `wrangler dev` as the tests run it: local state in `state`, containers off
 * (`SERVING_URL` stands in for the Containers binding), the given worker token and admin key.
 */
export function startGatewayWorker(sb: WranglerSandbox, opts: { state: string; servingUrl: string; workerToken: string; adminKey: string }): Promise<WranglerDev> {
  return startWranglerDev(sb, [
    '--persist-to', opts.state,
    '--enable-containers=false',
    '--var', `FLATGATE_WORKER_TOKEN:${opts.workerToken}`,
    '--var', `FLATGATE_ADMIN_KEY:${opts.adminKey}`,
    '--var', `SERVING_URL:${opts.servingUrl}`,
  ]);
}
