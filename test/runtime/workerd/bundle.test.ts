/**
 * `wrangler deploy --dry-run` on the repository's wrangler.toml: the config validates and the Worker
 * bundles, and the bundle holds nothing Node-only (no onnxruntime-node, no node:fs, no libsql, none of
 * the model/serving code that reads files). Building the serving container's image needs Docker: where
 * there is none, wrangler stops at that step after writing the bundle, and only that error is accepted.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWrangler, wranglerSandbox, type WranglerSandbox } from './wrangler-harness.ts';

/** Node builtins the bundle may import: none (nodejs_compat is off). */
const ALLOWED_NODE_BUILTINS: string[] = [];

describe('wrangler deploy --dry-run', () => {
  let sb: WranglerSandbox;
  let result: { code: number | null; out: string };
  let bundle: string;
  let inputs: string[];

  beforeAll(async () => {
    sb = await wranglerSandbox();
    const outdir = join(sb.dir, 'dist');
    result = await runWrangler(sb, ['deploy', '--dry-run', '--outdir', outdir, '--metafile', join(sb.dir, 'meta.json')]);
    const files = await readdir(outdir).catch(() => [] as string[]);
    const js = files.filter((f) => f.endsWith('.js'));
    bundle = (await Promise.all(js.map((f) => readFile(join(outdir, f), 'utf8')))).join('\n');
    const meta = JSON.parse(await readFile(join(sb.dir, 'meta.json'), 'utf8').catch(() => '{"inputs":{}}')) as { inputs: Record<string, unknown> };
    inputs = Object.keys(meta.inputs);
  });

  afterAll(async () => {
    await sb?.cleanup();
  });

  it('validates the config and writes the bundle; fails, if at all, only for want of Docker', () => {
    expect(result.out).toContain('Total Upload');
    if (result.code !== 0) expect(result.out).toContain('The Docker CLI could not be launched');
    expect(bundle.length).toBeGreaterThan(10_000);
    // the Durable Object class the [[containers]] entry names is exported by the entry
    expect(bundle).toMatch(/export\s*\{[^}]*\bServingContainer\b/);
  });

  it('bundles the app and its routes, not the Node-only modules', () => {
    expect(inputs.some((f) => f.endsWith('src/cloudflare.ts'))).toBe(true);
    expect(inputs.some((f) => f.endsWith('src/routes/jobs.ts'))).toBe(true);
    const banned = /onnxruntime-node|@libsql\/client|src\/serving\/session\/|src\/model\/load\.ts|src\/jobs\/upload-intake\.ts|src\/storage\/object-store\.ts|@aws-sdk\//;
    expect(inputs.filter((f) => banned.test(f))).toEqual([]);
  });

  it('contains no onnxruntime-node, no node:fs and only the allowed node: builtins', () => {
    expect(bundle).not.toContain('onnxruntime-node');
    expect(bundle).not.toMatch(/["']node:fs(\/promises)?["']/);
    const builtins = new Set([...bundle.matchAll(/(?:from|import\(|require\()\s*["'](node:[a-z_/]+)["']/g)].map((m) => m[1]));
    expect([...builtins].filter((b) => !ALLOWED_NODE_BUILTINS.includes(b))).toEqual([]);
  });
});
