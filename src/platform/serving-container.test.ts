import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import type { CloudflareBindings } from './cloudflare.ts';
import { containerEnv } from './serving-container.ts';

const bindings = (vars: Record<string, string>) => ({ DB: {}, BUCKET: {}, ...vars }) as unknown as CloudflareBindings;

describe("a serving container's settings", () => {
  it('make the Worker its comparison store (summaries and benchmarks): the origin that started it, the token, and the summary settings', () => {
    const env = containerEnv(bindings({ FLATGATE_WORKER_TOKEN: 'tok', FLATGATE_SUMMARY_FLUSH_MS: '5000', FLATGATE_ADMIN_KEY: 'a'.repeat(16) }), 'https://flatgate.example.workers.dev');
    expect(env).toMatchObject({ FLATGATE_COMPARISON_STORE_URL: 'https://flatgate.example.workers.dev', FLATGATE_WORKER_TOKEN: 'tok', FLATGATE_SUMMARY_FLUSH_MS: '5000', FLATGATE_AUTH: 'open', FLATGATE_SWEEP_BUCKET: 'false' });
    // the operator's key stays in the Worker
    expect(env.FLATGATE_ADMIN_KEY).toBeUndefined();
    // what the container's gateway makes of them
    const config = loadConfig(env);
    expect([config.comparisonStoreUrl, config.workerToken, config.summaryFlushMs]).toEqual(['https://flatgate.example.workers.dev', 'tok', 5000]);
  });

  it('take FLATGATE_COMPARISON_STORE_URL from the Worker when it is set (a custom domain, local dev)', () => {
    expect(containerEnv(bindings({ FLATGATE_WORKER_TOKEN: 'tok', FLATGATE_COMPARISON_STORE_URL: 'https://api.example.com' }), 'https://flatgate.example.workers.dev').FLATGATE_COMPARISON_STORE_URL).toBe('https://api.example.com');
  });
});
