#!/usr/bin/env node
/**
 * `wrangler deploy --dry-run` that works where Docker is absent. wrangler builds the serving
 * container's image from its Dockerfile even in a dry run, and stops when it cannot launch Docker. This
 * runs the pinned wrangler on a copy of wrangler.toml (in a temp folder, paths made absolute) whose
 * `[[containers]] image` names a prebuilt image instead, so the config is validated and the Worker
 * bundled without Docker. With Docker present it leaves the Dockerfile in place (the image is built).
 *
 *   node infra/wrangler-dry-run.mjs [--image REF] [--outdir DIR]     (npm run check:worker)
 *
 * --image REF  the prebuilt image to name (default, when `docker info` fails:
 *              registry.cloudflare.com/flatgate/flatgate-gateway:dry-run); --outdir: default dist/worker.
 * Exits with wrangler's exit code. Offline: no metrics, no cf.json fetch, logs and config in the temp folder.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const DEFAULT_IMAGE = 'registry.cloudflare.com/flatgate/flatgate-gateway:dry-run';

const { values } = parseArgs({ options: { image: { type: 'string' }, outdir: { type: 'string' } } });
const hasDocker = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
const image = values.image ?? (hasDocker ? null : DEFAULT_IMAGE);
const outdir = resolve(values.outdir ?? join(ROOT, 'dist', 'worker'));

let toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
for (const key of ['main', 'migrations_dir', 'image', 'image_build_context']) {
  const re = new RegExp(`^(${key}\\s*=\\s*)"([^"]+)"`, 'm');
  if (!re.test(toml)) throw new Error(`wrangler.toml has no ${key}`);
  toml = toml.replace(re, (_m, lhs, path) => `${lhs}${JSON.stringify(resolve(ROOT, path))}`);
}
if (image) {
  toml = toml.replace(/^image\s*=\s*"[^"]+"/m, `image = ${JSON.stringify(image)}`).replace(/^image_build_context\s*=.*\n/m, '');
  console.log(`wrangler-dry-run: [[containers]] image = ${image} (prebuilt; no Docker build)`);
}

const dir = mkdtempSync(join(tmpdir(), 'flatgate-dry-run-'));
try {
  const config = join(dir, 'wrangler.toml');
  writeFileSync(config, toml);
  const env = { WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_LOG_PATH: join(dir, 'logs'), XDG_CONFIG_HOME: join(dir, 'xdg'), ...process.env };
  const wrangler = join(ROOT, 'node_modules', '.bin', 'wrangler');
  const r = spawnSync(wrangler, ['deploy', '--dry-run', '--outdir', outdir, '-c', config], { cwd: dir, env, stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
