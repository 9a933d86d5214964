/**
 * Issue 11, item 6: the OpenAPI document describes every route the apps really have (Hono's
 * `app.routes`, Node with all its routes and the Worker), nothing that does not exist, and is served at
 * /openapi.json with a self-contained /docs page.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createCloudflareApp } from '../../src/cloudflare-app.ts';
import type { Platform } from '../../src/platform/types.ts';
import { API_ROUTES, openApiDocument, openApiPath } from '../../src/routes/openapi.ts';
import { ModelPool } from '../../src/serving/model-pool.ts';
import { startGateway, type TestGateway } from './gateway-server.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(() => gw.close());

/** The method/path pairs an app answers (middleware, registered as ALL, left out). */
function routesOf(app: { routes: { method: string; path: string }[] }): string[] {
  return [...new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`))];
}

describe('OpenAPI document', () => {
  it('documents every route of the Node app (all routes registered) and of the Worker, and no other', () => {
    // the platform is only looked at to decide which routes to register; nothing here runs a request
    const node = createApp({ pool: new ModelPool(), maxRequestBytes: 1 << 20, platform: {} as Platform });
    const worker = createCloudflareApp();
    const real = new Set([...routesOf(node), ...routesOf(worker)]);
    const doc = openApiDocument();
    const documented = new Set(Object.entries(doc.paths ?? {}).flatMap(([path, item]) => Object.keys(item as object).map((m) => `${m} ${path}`)));
    expect(real.size).toBeGreaterThan(25);
    for (const r of real) expect(documented, r).toContain(r);
    for (const d of documented) expect(real, d).toContain(d);
    expect(API_ROUTES).toHaveLength(documented.size);
  });

  it('is served at /openapi.json with the request schemas the routes validate with', async () => {
    const r = await fetch(`${gw.url}/openapi.json`);
    expect(r.status).toBe(200);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const doc = (await r.json()) as any;
    expect(doc.openapi).toBe('3.0.3');
    const completions = doc.paths['/v1/completions'].post;
    const body = completions.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(expect.arrayContaining(['model', 'prompt']));
    expect(Object.keys(body.properties)).toEqual(expect.arrayContaining(['prompt', 'logprobs', 'echo', 'repetition_penalty', 'logit_bias', 'min_tokens']));
    expect(completions.security).toEqual([{ apiKey: [] }]);
    expect(completions.description).toContain('inference');
    expect(doc.paths['/metrics'].get.description).toContain('admin');
    expect(doc.paths['/v1/models/{id}'].get.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true })]);
    expect(doc.paths['/tokenize'].post.responses['200'].content['application/json'].schema.properties.tokens).toBeDefined();
    expect(doc.paths['/v1/worker/claim'].post.security).toEqual([{ workerToken: [] }]);
    expect(doc.components.schemas.Error.properties.error).toBeDefined();
  });

  it('/docs is a page that needs nothing from outside', async () => {
    const r = await fetch(`${gw.url}/docs`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/html');
    const html = await r.text();
    expect(html).toContain("fetch('openapi.json')");
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toContain('innerHTML');
  });

  it('/docs renders every operation in headless Chromium, fetching nothing but the gateway', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'flatgate-docs-'));
    const args = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
    const browser = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${gw.url}/docs`);
      await page.locator('details').nth(API_ROUTES.length - 1).waitFor({ timeout: 10_000 });
      expect(await page.locator('details').count()).toBe(API_ROUTES.length);
      expect(await page.locator('summary', { hasText: '/v1/completions' }).count()).toBe(1);
      expect(errors).toEqual([]);
      expect(requests.every((u) => u.startsWith(gw.url))).toBe(true);
    } finally {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    }
  });
});
