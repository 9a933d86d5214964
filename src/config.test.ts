import { cpus } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

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
