import { describe, expect, it } from 'vitest';
import { WORKER_MALLOC, workerEnv } from './local-worker.ts';

const s3 = { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', bucket: 'b', accessKeyId: 'a', secretAccessKey: 's', forcePathStyle: true };

describe('the embedded worker environment', () => {
  it('gets its thread count and the malloc settings that return freed memory, unless the operator set them', () => {
    const env = workerEnv({ gatewayUrl: 'http://x', token: 't', s3, threads: 3, env: { MALLOC_ARENA_MAX: '4' } });
    expect(env.FLATGATE_THREADS).toBe('3');
    expect(env.MALLOC_ARENA_MAX).toBe('4');
    expect(env.MALLOC_MMAP_THRESHOLD_).toBe(WORKER_MALLOC.MALLOC_MMAP_THRESHOLD_);
    expect(env.MALLOC_TRIM_THRESHOLD_).toBe('131072');
  });
});
