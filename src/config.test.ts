import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TASK_DATA_DIR } from '../test/fixtures/paths.ts';
import { BUNDLED_TASK_DATA_DIR, ConfigError, CLOUDFLARE_SETTINGS, loadConfig, SETTINGS, withEnvTable } from './config.ts';

const ROOT = resolve(import.meta.dirname, '..');

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.host).toBe('127.0.0.1');
    expect(c.dataDir).toBe(resolve('./data'));
    expect(c.databaseUrl).toBe(`file:${join(resolve('./data'), 'flatgate.db')}`);
    expect(c.demoModel).toMatch(/fixtures\/models\/stories260K\/stories260K\.bin$/);
    expect(existsSync(c.demoModel!)).toBe(true);
    expect(c.taskDataDir).toBe(TASK_DATA_DIR);
    expect(existsSync(join(c.taskDataDir, 'piqa/valid.jsonl'))).toBe(true);
    expect(c.s3).toEqual({ endpoint: null, region: 'us-east-1', bucket: 'flatgate', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true, embeddedPort: 4568, credentialsSet: false });
    expect(c.authMode).toBe('keys');
    expect(c.adminKey).toBeNull();
    expect(c.jobs).toEqual({ leaseMs: 60_000, maxAttempts: 3, retryBaseMs: 5_000 });
    expect(c.workerId).toMatch(/-\d+$/);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads each variable', () => {
    const c = loadConfig({
      PORT: '0', FLATGATE_DATA_DIR: '/tmp/fg', FLATGATE_DEMO_MODEL: 'none', FLATGATE_TASK_DATA_DIR: 'some/tasks', FLATGATE_S3_FORCE_PATH_STYLE: 'off',
      FLATGATE_AUTH: 'open', FLATGATE_ADMIN_KEY: 'k'.repeat(16), FLATGATE_JOB_MAX_ATTEMPTS: '5', FLATGATE_WORKER_ID: 'w1', FLATGATE_DATABASE_URL: 'http://db:8080',
    });
    expect([c.port, c.dataDir, c.demoModel, c.taskDataDir, c.s3.forcePathStyle]).toEqual([0, '/tmp/fg', null, resolve('some/tasks'), false]);
    expect([c.authMode, c.adminKey, c.jobs.maxAttempts, c.workerId, c.databaseUrl]).toEqual(['open', 'k'.repeat(16), 5, 'w1', 'http://db:8080']);
  });

  it('fails once, naming every bad key with the value it got', () => {
    const bad = () =>
      loadConfig({ PORT: '70000', FLATGATE_S3_FORCE_PATH_STYLE: 'maybe', FLATGATE_UPLOADS_PREFIX: 'models/x/', FLATGATE_AUTH: 'none', FLATGATE_ADMIN_KEY: 'short', FLATGATE_JOB_LEASE_MS: '1.5' });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(
      'Invalid environment: PORT="70000" must be an integer in [0, 65535]; FLATGATE_S3_FORCE_PATH_STYLE="maybe" must be true or false; ' +
        'FLATGATE_UPLOADS_PREFIX="models/x/" must not lie under models/ or tmp/; FLATGATE_AUTH="none" must be keys or open; ' +
        'FLATGATE_ADMIN_KEY must be at least 16 characters; FLATGATE_JOB_LEASE_MS="1.5" must be an integer in [100, 86400000]',
    );
  });
});

describe('the comparison store setting', () => {
  it('is the database by default; a URL needs the worker token and must be http(s)', () => {
    expect(loadConfig({}).comparisonStoreUrl).toBeNull();
    expect(loadConfig({ FLATGATE_COMPARISON_STORE_URL: 'https://flatgate.example.workers.dev', FLATGATE_WORKER_TOKEN: 't' }).comparisonStoreUrl).toBe('https://flatgate.example.workers.dev');
    expect(() => loadConfig({ FLATGATE_COMPARISON_STORE_URL: 'https://flatgate.example.workers.dev' })).toThrow('FLATGATE_COMPARISON_STORE_URL needs FLATGATE_WORKER_TOKEN');
    expect(() => loadConfig({ FLATGATE_COMPARISON_STORE_URL: 'ftp://x', FLATGATE_WORKER_TOKEN: 't' })).toThrow('FLATGATE_COMPARISON_STORE_URL="ftp://x" must be an http(s) URL');
    expect(() => loadConfig({ FLATGATE_COMPARISON_STORE_URL: 'not a url', FLATGATE_WORKER_TOKEN: 't' })).toThrow(ConfigError);
  });
});

describe('the README table of environment variables', () => {
  it('is what `npm run docs:env` generates from SETTINGS', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    expect(withEnvTable(readme), 'README.md is stale: run npm run docs:env').toBe(readme);
    for (const s of [...Object.values(SETTINGS), ...CLOUDFLARE_SETTINGS]) expect(readme).toContain(`| \`${s.name}\` |`);
  });

  it('lists every FLATGATE_* variable the sources name', async () => {
    const names = new Set([...Object.values(SETTINGS), ...CLOUDFLARE_SETTINGS].map((s) => s.name));
    const files = (await readdir(join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    const named = new Set<string>();
    for (const f of files) for (const m of (await readFile(join(ROOT, 'src', f), 'utf8')).matchAll(/\bFLATGATE_[A-Z0-9_]*[A-Z0-9]\b/g)) named.add(m[0]);
    expect([...named].filter((n) => !names.has(n))).toEqual([]);
    expect(BUNDLED_TASK_DATA_DIR).toBe(TASK_DATA_DIR);
  });
});

describe('serving threads and batching settings', () => {
  it('defaults: all cores per session, half for the embedded worker, no spinning, batch 8, 1 GiB of KV cache', () => {
    const c = loadConfig({});
    expect(c.threads).toBe(cpus().length);
    expect(c.workerThreads).toBe(Math.max(1, Math.floor(cpus().length / 2)));
    expect(c.threadSpinning).toBe(false);
    expect([c.maxBatch, c.queueDepth, c.kvCacheBytes]).toEqual([8, 64, 2 ** 30]);
  });

  it('reads them from the environment and rejects bad values in one message', () => {
    const c = loadConfig({ FLATGATE_THREADS: '3', FLATGATE_WORKER_THREADS: '1', FLATGATE_THREAD_SPINNING: 'on', FLATGATE_MAX_BATCH: '4', FLATGATE_QUEUE_DEPTH: '0', FLATGATE_KV_CACHE_MB: '256' });
    expect([c.threads, c.workerThreads, c.threadSpinning, c.maxBatch, c.queueDepth, c.kvCacheBytes]).toEqual([3, 1, true, 4, 0, 256 * 2 ** 20]);
    expect(() => loadConfig({ FLATGATE_MAX_BATCH: '0', FLATGATE_KV_CACHE_MB: 'x' })).toThrow(ConfigError);
    expect(() => loadConfig({ FLATGATE_MAX_BATCH: '0', FLATGATE_KV_CACHE_MB: 'x' })).toThrow(/FLATGATE_MAX_BATCH.*FLATGATE_KV_CACHE_MB/);
  });
});
