/**
 * Issue 11, item 9: the documented dry-run command (`npm run check:worker`, i.e.
 * `node infra/wrangler-dry-run.mjs`) validates wrangler.toml and bundles the Worker with exit code 0
 * where there is no Docker: the serving container is named by a prebuilt image instead of built.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './wrangler-harness.ts';

describe('infra/wrangler-dry-run.mjs', () => {
  it('exits 0 without Docker, naming the prebuilt image, and writes the bundle', async () => {
    const out = await mkdtemp(join(tmpdir(), 'flatgate-dry-run-test-'));
    try {
      const image = 'registry.cloudflare.com/flatgate/flatgate-gateway:test';
      const env: NodeJS.ProcessEnv = { ...process.env, CI: '1', NO_COLOR: '1', FORCE_COLOR: '0' };
      delete env.CLOUDFLARE_API_TOKEN;
      delete env.CLOUDFLARE_ACCOUNT_ID;
      const r = spawnSync(process.execPath, [join(ROOT, 'infra/wrangler-dry-run.mjs'), '--image', image, '--outdir', out], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
      const text = r.stdout + r.stderr;
      expect(r.status, text).toBe(0);
      expect(text).not.toContain('Docker CLI could not be launched');
      expect(text).toContain(`flatgate-servingcontainer (${image})`);
      expect(text).toContain('--dry-run: exiting now.');
      const js = (await readdir(out)).filter((f) => f.endsWith('.js'));
      const bundle = (await Promise.all(js.map((f) => readFile(join(out, f), 'utf8')))).join('\n');
      expect(bundle).toMatch(/export\s*\{[^}]*\bServingContainer\b/);
      // the repository's own wrangler.toml is left as it was
      expect(await readFile(join(ROOT, 'wrangler.toml'), 'utf8')).toContain('image = "./infra/gateway.Dockerfile"');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 150_000);
});
