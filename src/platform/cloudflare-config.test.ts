import { describe, expect, it } from 'vitest';
import { workerConfig, WorkerConfigError } from './cloudflare-config.ts';

describe('workerConfig', () => {
  it('reads the FLATGATE_* vars with the Node defaults where they apply', () => {
    const c = workerConfig({ FLATGATE_WORKER_TOKEN: 'tok', FLATGATE_JOB_LEASE_MS: '30000', DB: {}, BUCKET: {} });
    expect(c.workerToken).toBe('tok');
    expect(c.jobs).toEqual({ leaseMs: 30_000, maxAttempts: 3, retryBaseMs: 5_000 });
    expect(c.uploadsPrefix).toBe('uploads/');
    expect(c.s3.bucket).toBe('flatgate');
    expect(c.authMode).toBe('keys');
    expect(c.maxUploadBytes).toBe(100_000_000);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('fails once, naming every bad key', () => {
    const bad = () => workerConfig({ FLATGATE_JOB_MAX_ATTEMPTS: '0', FLATGATE_UPLOADS_PREFIX: 'models/x/', FLATGATE_AUTH: 'none', FLATGATE_ADMIN_KEY: 'short' });
    expect(bad).toThrow(WorkerConfigError);
    expect(bad).toThrow(/FLATGATE_WORKER_TOKEN.*FLATGATE_UPLOADS_PREFIX.*FLATGATE_AUTH.*FLATGATE_ADMIN_KEY.*$/);
    expect(bad).toThrow(/FLATGATE_JOB_MAX_ATTEMPTS="0"/);
  });
});
