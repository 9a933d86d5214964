/**
 * The comparison page in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core), against
 * a real gateway with stories260K and a variant: content negotiation, the table's numbers against exact
 * quantiles of the raw samples (DDSketch: within 1%), the inline script's SVG plots and time axis, the
 * request mix and its warning, the matched workload, no console errors and no request but the page
 * itself; and, on a gateway with keys, the way in: a sign-in form, the key in sessionStorage sent only
 * as a header, self-refresh, window links, sign-out.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countParams } from '../../src/model/types.ts';
import { renderComparisonPage, type Comparison } from '../../src/routes/comparison-page.ts';
import { startGateway, VARIANT, type TestGateway } from './gateway-server.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Plot geometry of comparison-plots.ts: height 300, top margin 12, bottom margin 46. */
const PLOT_TOP = 12;
const PLOT_INNER = 300 - 12 - 46;

let gw: TestGateway;
let client: OpenAI;
let browser: BrowserContext;
let profile: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)`);
  gw = await startGateway();
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  profile = await mkdtemp(join(tmpdir(), 'flatgate-chromium-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
});
afterAll(async () => {
  await browser?.close();
  await gw?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/** Opens `url` (or `html`) and waits for the inline script; records every request and console error. */
async function open(target: { url: string } | { html: string }): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  if ('url' in target) await page.goto(target.url, { waitUntil: 'load' });
  else await page.setContent(target.html, { waitUntil: 'load' });
  await page.locator('html[data-plots="drawn"]').waitFor({ state: 'attached', timeout: 5000 });
  return { page, requests, errors };
}

/** The sample quantile DDSketch bounds: the value at rank floor(q (n - 1)) of the sorted sample. */
function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))];
}

/** `12.3 ms` / `1.23 s` back to seconds. */
function seconds(text: string): number {
  const m = text.match(/^([0-9.e+-]+) (ms|s)$/);
  expect(m, text).not.toBeNull();
  return Number(m![1]) / (m![2] === 'ms' ? 1000 : 1);
}

const cellOf = (page: Page, variant: string, metric: string) => page.locator(`td[data-variant="${variant}"][data-metric="${metric}"]`);

describe('GET /v1/models/:id/comparison as a page', () => {
  it('negotiates HTML or JSON', async () => {
    const get = (path: string, accept?: string) => fetch(`${gw.url}${path}`, { headers: accept ? { accept } : {} });
    const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
    const type = async (r: Response) => (await r.arrayBuffer(), r.headers.get('content-type') ?? '');
    expect(await type(await get('/v1/models/stories260K/comparison'))).toMatch(/^application\/json/);
    expect(await type(await get('/v1/models/stories260K/comparison', '*/*'))).toMatch(/^application\/json/);
    expect(await type(await get('/v1/models/stories260K/comparison', browserAccept))).toMatch(/^text\/html/);
    expect(await type(await get('/v1/models/stories260K/comparison?format=html'))).toMatch(/^text\/html/);
    expect(await type(await get('/v1/models/stories260K/comparison?format=json', browserAccept))).toMatch(/^application\/json/);
    expect(await type(await get(`/models/${VARIANT}/comparison`))).toMatch(/^text\/html/);
    const bad = await get('/v1/models/stories260K/comparison?format=xml');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('format');
    const unknown = await get('/models/nope/comparison', browserAccept);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { type: string } }).error.type).toBe('not_found_error');
  });

  it('says so when there is no traffic yet, and still renders cleanly', async () => {
    const { page, requests, errors } = await open({ url: `${gw.url}/v1/models/stories260K/comparison?format=html` });
    expect(await page.locator('#no-traffic').isVisible()).toBe(true);
    expect(await page.locator('#comparison thead th[data-variant]').allTextContents()).toEqual(['stories260Koriginal', `${VARIANT}shortgpt of stories260K`]);
    expect(await cellOf(page, VARIANT, 'requests').textContent()).toBe('0');
    expect(await cellOf(page, VARIANT, 'ttft.p50').textContent()).toBe('—');
    expect(await page.locator('path.series').count()).toBe(0);
    expect(await page.locator('[data-plot^="ecdf:"] .empty').count()).toBe(3);
    expect(await page.locator('[data-plot="ppl"] rect.bar').count()).toBe(2);
    expect(requests).toEqual([`${gw.url}/v1/models/stories260K/comparison?format=html`]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('after traffic, shows the right numbers and draws the distributions and accuracy', async () => {
    const tasks = { 'stories260K': { piqa: { acc: 0.625, acc_norm: 0.6, n: 40 }, arc_easy: { acc: 0.4, n: 40 } }, [VARIANT]: { piqa: { acc: 0.55, acc_norm: 0.5, n: 40 }, arc_easy: { acc: 0.325, n: 40 } } };
    for (const [id, t] of Object.entries(tasks)) gw.pool.get(id).info.evaluation = { ...gw.pool.get(id).info.evaluation, tasks: t };
    for (const [model, n] of [['stories260K', 4], [VARIANT, 3]] as const) {
      for (let i = 0; i < n; i++) {
        const stream = await client.completions.create({ model, prompt: `Once upon a time ${i}`, max_tokens: 12, temperature: 0, stream: true });
        for await (const _ of stream) void _;
      }
    }
    await gw.router.set({ model: 'stories260K', arms: [{ variant: 'stories260K', weight: 1 }, { variant: VARIANT, weight: 0 }], shadowRate: 1 });
    for (let i = 0; i < 2; i++) await client.completions.create({ model: 'stories260K', prompt: 'Tom had a dog', max_tokens: 10, temperature: 0, user: `u${i}` });
    for (let t = 0; t < 100 && (gw.metrics.agreement('stories260K', VARIANT)?.requests ?? 0) < 2; t++) await new Promise((r) => setTimeout(r, 50));
    await gw.router.delete('stories260K');
    const agreement = gw.metrics.agreement('stories260K', VARIANT)!;
    expect(agreement.requests).toBe(2);

    const { page, requests, errors } = await open({ url: `${gw.url}/models/stories260K/comparison` });
    expect(await page.locator('#no-traffic').count()).toBe(0);
    for (const [id, layers, loaded] of [['stories260K', 5, gw.original], [VARIANT, 4, null]] as const) {
      const rows = gw.metrics.window(id);
      expect(rows.length).toBeGreaterThanOrEqual(id === VARIANT ? 3 : 6);
      expect(await cellOf(page, id, 'requests').textContent()).toBe(String(rows.length));
      expect(await cellOf(page, id, 'layers').textContent()).toBe(String(layers));
      if (loaded) expect(Number(await cellOf(page, id, 'params').getAttribute('data-value'))).toBe(countParams(loaded.model));
      const ttft = rows.flatMap((r) => (r.ttft === null ? [] : [r.ttft]));
      const samples = { ttft, e2e: rows.map((r) => r.e2e), itl: rows.flatMap((r) => r.itl) };
      for (const key of ['ttft', 'itl', 'e2e'] as const) {
        for (const [q, p] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
          const want = quantile(samples[key], p);
          const cell = cellOf(page, id, `${key}.${q}`);
          expect(Math.abs(Number(await cell.getAttribute('data-value')) / want - 1), `${id} ${key} ${q}`).toBeLessThanOrEqual(0.01 + 1e-12);
          expect(Math.abs(seconds((await cell.textContent())!) / want - 1)).toBeLessThan(0.016);
        }
      }
      let tokens = 0;
      let time = 0;
      for (const r of rows) if (r.completionTokens > 1 && r.ttft !== null) { tokens += r.completionTokens - 1; time += r.e2e - r.ttft; }
      expect(Number(await cellOf(page, id, 'tokens_per_second').textContent())).toBeCloseTo(tokens / time, 1);
      const n = { ttft: ttft.length, e2e: rows.length, itl: samples.itl.length };
      for (const key of ['ttft', 'e2e', 'itl'] as const) {
        const path = page.locator(`[data-plot="ecdf:${key}"] path.series[data-variant="${id}"]`);
        expect(Number(await path.getAttribute('data-n'))).toBe(n[key]);
        expect(Number((await path.getAttribute('d'))!.match(/V([0-9.]+) H[0-9.]+$/)![1])).toBeCloseTo(PLOT_TOP, 6);
      }
      for (const [task, score] of Object.entries(tasks[id])) {
        expect(await cellOf(page, id, `task.${task}.acc`).textContent()).toBe(`${(score.acc * 100).toFixed(1)}%`);
        const bar = page.locator(`[data-plot="accuracy"] rect.bar[data-variant="${id}"][data-group="${task}"]`);
        expect(Number(await bar.getAttribute('height'))).toBeCloseTo(score.acc * PLOT_INNER, 1);
      }
    }
    expect(await cellOf(page, 'stories260K', 'ppl').textContent()).toBe('10.000');
    expect(await cellOf(page, VARIANT, 'ratio.ppl').textContent()).toBe('1.400×');
    expect(await cellOf(page, VARIANT, 'ratio.layers').textContent()).toBe('0.800×');
    expect(await cellOf(page, VARIANT, 'agreement.top1').textContent()).toBe(`${(agreement.top1 * 100).toFixed(1)}%`);
    expect(await cellOf(page, VARIANT, 'agreement.requests').textContent()).toBe('2');
    expect(await cellOf(page, 'stories260K', 'agreement.top1').textContent()).toBe('—');
    expect(await page.locator('[data-plot="ecdf:ttft"] svg .legend text').allTextContents()).toEqual([
      `stories260K (n=${gw.metrics.window('stories260K').filter((r) => r.ttft !== null).length})`,
      `${VARIANT} (n=${gw.metrics.window(VARIANT).filter((r) => r.ttft !== null).length})`,
    ]);
    expect(await page.locator('[data-plot="ecdf:e2e"] svg .axes text').count()).toBeGreaterThan(6);
    // the time axis: one point per minute with traffic, adding up to the requests
    for (const id of ['stories260K', VARIANT]) {
      const perMinute = (await page.locator(`[data-plot="time:requests"] g.points[data-variant="${id}"] circle`).evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('data-value')))));
      expect(perMinute.reduce((a, b) => a + b, 0)).toBe(gw.metrics.window(id).length);
      expect(await page.locator(`[data-plot="time:latency"] g.points[data-variant="${id}"] circle`).count()).toBe(perMinute.filter((x) => x > 0).length);
      expect(await cellOf(page, id, 'errors').textContent()).toBe('0');
      expect(await cellOf(page, id, 'mix.scoring_share').textContent()).toBe('0.0%');
    }
    expect(await page.locator('[data-plot="time:requests"] svg .axes text').filter({ hasText: /^\d\d:\d\d$/ }).count()).toBeGreaterThan(0);
    expect(requests).toEqual([`${gw.url}/models/stories260K/comparison`]);
    expect(errors).toEqual([]);
    if (process.env.COMPARISON_SCREENSHOT) await page.screenshot({ path: process.env.COMPARISON_SCREENSHOT, fullPage: true });
    await page.close();
  });

  it('keeps hostile model names inert: no script injection, no requests, the data round-trips', async () => {
    const table = (await (await fetch(`${gw.url}/v1/models/stories260K/comparison`)).json()) as Comparison;
    const evil = `x</script><script>window.pwned=1</script><!--<img src=/x onerror="window.pwned=2">`;
    const hostile: Comparison = { ...table, model: evil, variants: table.variants.map((v, i) => ({ ...v, id: `${evil}${i}`, method: `<b>${i}</b>\u2028` })) };
    const { page, requests, errors } = await open({ html: renderComparisonPage(hostile) });
    expect(await page.evaluate('window.pwned')).toBeUndefined();
    expect(await page.evaluate('JSON.parse(document.getElementById("comparison-data").textContent)')).toEqual(hostile);
    expect(await page.locator('#comparison thead th[data-variant]').first().getAttribute('data-variant')).toBe(`${evil}0`);
    expect(await page.locator('h1').textContent()).toContain(evil);
    expect(await page.locator('[data-plot^="ecdf:"] path.series').count()).toBe(6);
    expect(requests.filter((u) => u !== 'about:blank')).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('what makes the comparison fair, or says it is not', () => {
  it('formats durations, counts and sizes with three significant digits', async () => {
    const { page } = await open({ url: `${gw.url}/models/stories260K/comparison` });
    const got = await page.evaluate(`(() => {
      const f = window.flatgateFormat;
      return [f.seconds(0.0123456), f.seconds(0.000412), f.seconds(0.9996), f.seconds(1.23456), f.count(999), f.count(259584), f.count(124700000), f.bytes(512), f.bytes(1048576 * 1.5)];
    })()`);
    expect(got).toEqual(['12.3 ms', '0.412 ms', '1000 ms', '1.23 s', '999', '260K', '125M', '512 B', '1.5 MiB']);
    await page.close();
  });

  it('shows the request mix, warns when it differs, shows verdicts, stderr and the latest interleaved benchmark', async () => {
    const prompt = 'Once upon a time there was a little dog who liked to run in the park with his friends every day';
    for (let i = 0; i < 24; i++) await client.completions.create({ model: 'stories260K:original', prompt, max_tokens: 0, echo: true, logprobs: 0 });
    for (let i = 0; i < 20; i++) await client.completions.create({ model: VARIANT, prompt: `Tom ${i}`, max_tokens: 6, temperature: 0 });
    const bad = await fetch(`${gw.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: VARIANT, prompt: 'Once', max_tokens: 4096 }) });
    expect(bad.status).toBe(400);
    // that request was refused before it reached the variant (validated before any run), so it is not the
    // variant's error; a run that fails on the variant is, as recorded by runCompletion (serving/inference.ts)
    gw.metrics.record({ model: 'stories260K', variant: VARIANT, at: Date.now(), queue: 0, ttft: null, itl: [], e2e: 0.01, promptTokens: 2, completionTokens: 0, kind: 'generation', outcome: 'error' });
    // a client that goes away mid-stream counts as aborted, not as an error
    const abort = new AbortController();
    const stream = await fetch(`${gw.url}/v1/completions`, { method: 'POST', signal: abort.signal, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: VARIANT, prompt: 'Once', max_tokens: 400, stream: true }) });
    await stream.body!.getReader().read();
    abort.abort();
    const aborted = async () => ((await (await fetch(`${gw.url}/v1/models/stories260K/comparison`)).json()) as Comparison).variants[1].latency.aborted;
    await expect.poll(aborted, { timeout: 10_000 }).toBe(1);
    // evaluations that make the variant collapse (perplexity more than twice the original's): the comparison
    // judges them under the model's criteria, as GET /v1/models/:id does
    const origInfo = gw.pool.get('stories260K').info;
    origInfo.evaluation = { ...origInfo.evaluation, ppl: 6.4, tasks: { piqa: { acc: 0.625, acc_stderr: 0.0765, n: 40 } } };
    const info = gw.pool.get(VARIANT).info;
    info.evaluation = { ...info.evaluation, ppl: 13.9, tasks: { piqa: { acc: 0.55, acc_stderr: 0.0786, n: 40 } } };

    const bench = await fetch(`${gw.url}/v1/models/stories260K/benchmark`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: 4, concurrency: 2, max_tokens: 8 }) });
    expect(bench.status).toBe(200);
    const result = (await bench.json()) as { schedule: string[]; variants: { id: string; latency: { requests: number; tokens_per_second: number } }[] };
    expect(result.schedule).toEqual(['stories260K×2', `${VARIANT}×2`, `${VARIANT}×2`, 'stories260K×2']);
    expect(result.variants.map((v) => [v.id, v.latency.requests])).toEqual([['stories260K', 4], [VARIANT, 4]]);

    const json = (await (await fetch(`${gw.url}/v1/models/stories260K/comparison`)).json()) as Comparison;
    expect(json.matched_workload).toEqual(result);
    expect(json.fairness.mix_differs).toBe(true);
    const [orig, variant] = json.variants;
    const origRows = gw.metrics.window('stories260K');
    expect(orig.mix.requests).toBe(origRows.length);
    expect(orig.mix.scoring_share).toBeCloseTo(origRows.filter((r) => r.kind === 'scoring').length / origRows.length, 12);
    expect(variant.mix.scoring_share).toBe(0);
    // the scoring forward is timed on its own (the request's e2e ends before it)
    expect(orig.latency.scoring.n).toBe(24);
    expect(orig.latency.scoring.p50).toBeGreaterThan(0);
    expect(variant.latency.scoring.n).toBe(0);
    expect(variant.latency.errors).toBe(1);
    expect(variant.latency.error_rate).toBeCloseTo(1 / gw.metrics.window(VARIANT).length, 12);

    const { page, requests, errors } = await open({ url: `${gw.url}/models/stories260K/comparison` });
    expect(await page.locator('#fairness').isVisible()).toBe(true);
    expect(await page.locator('#fairness').getAttribute('data-status')).toBe('mix_differs');
    expect(await page.locator('#fairness li').first().textContent()).toMatch(/scoring calls/);
    const verdict = page.locator(`#verdict .verdict[data-variant="${VARIANT}"]`);
    expect(await verdict.getAttribute('data-status')).toBe('collapsed');
    expect(await verdict.locator('strong').textContent()).toMatch(/collapsed: the compression broke this variant/);
    expect((await verdict.locator('li').allTextContents())[0]).toMatch(/2.17x the original's 6.40 \(more than 2x\)/);
    expect(await page.locator('#verdict .verdict').count()).toBe(1);
    expect(await cellOf(page, VARIANT, 'task.piqa.acc_stderr').textContent()).toBe('± 7.9%');
    expect(await page.locator('#mix').locator(`td[data-variant="stories260K"][data-metric="mix.scoring"]`).textContent()).toBe(`${(orig.mix.scoring_share! * 100).toFixed(1)}%`);
    expect(await page.locator('#mix').locator(`td[data-variant="${VARIANT}"][data-metric="mix.scoring"]`).textContent()).toBe('0.0%');
    expect(await cellOf(page, VARIANT, 'errors').textContent()).toBe('1');
    expect(Number(await cellOf(page, 'stories260K', 'scoring.p50').getAttribute('data-value'))).toBe(orig.latency.scoring.p50);
    expect(await cellOf(page, VARIANT, 'error_rate').textContent()).toBe(`${(variant.latency.error_rate! * 100).toFixed(1)}%`);
    expect(await page.locator('[data-plot="time:errors"] g.points[data-variant] circle').count()).toBeGreaterThan(0);
    expect(await page.locator('#matched-table tbody tr').count()).toBe(2);
    expect(Number(await page.locator(`#matched-table tr[data-variant="${VARIANT}"] td[data-metric="tokens_per_second"]`).getAttribute('data-value'))).toBe(result.variants[1].latency.tokens_per_second);
    expect(await page.locator('#matched .meta').textContent()).toContain('interleaved');
    expect(requests).toEqual([`${gw.url}/models/stories260K/comparison`]);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('the page on a gateway with API keys', () => {
  const KEY = 'comparison-page-admin-key-0123456789';
  let keyed: TestGateway;
  beforeAll(async () => {
    keyed = await startGateway({}, { auth: { mode: 'keys', adminKey: KEY, db: null } });
  });
  afterAll(() => keyed?.close());

  it('signs in with a form, keeps the key out of URLs, refreshes itself, follows window links, signs out', async () => {
    const page = await browser.newPage();
    const requests: { url: string; auth: string | undefined }[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push({ url: r.url(), auth: r.headers().authorization }));
    page.on('console', (m) => { if ((m.type() === 'error' || m.type() === 'warning') && !/status of 401/.test(m.text())) errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${keyed.url}/models/stories260K/comparison?refresh=1`);
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    expect(await page.locator('#content').isVisible()).toBe(false);
    expect(await page.locator('#comparison').count()).toBe(0);
    expect(requests.map((r) => r.url)).toEqual([`${keyed.url}/models/stories260K/comparison?refresh=1`]);

    await page.fill('#api-key', 'fg-not-the-key');
    await page.click('#sign-in button[type=submit]');
    await expect.poll(() => page.locator('#sign-in-error').textContent()).toContain('refused');
    expect(await page.evaluate('sessionStorage.getItem("flatgate.apiKey")')).toBeNull();

    await page.fill('#api-key', KEY);
    await page.click('#sign-in button[type=submit]');
    await page.locator('#comparison').waitFor();
    expect(await page.locator('#sign-in').isVisible()).toBe(false);
    expect(await page.locator('#sign-out').isVisible()).toBe(true);
    expect(await page.evaluate('sessionStorage.getItem("flatgate.apiKey")')).toBe(KEY);
    expect(await page.inputValue('#api-key')).toBe('');
    expect(await cellOf(page, 'stories260K', 'requests').textContent()).toBe('0');

    // traffic from elsewhere shows up without a reload
    const keyedClient = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: KEY, maxRetries: 0 });
    for (let i = 0; i < 3; i++) await keyedClient.completions.create({ model: 'stories260K', prompt: `Lily ${i}`, max_tokens: 4, temperature: 0 });
    await expect.poll(() => cellOf(page, 'stories260K', 'requests').textContent(), { timeout: 10_000 }).toBe('3');

    // a reload in the same tab stays signed in; a window link changes the window, not the page
    await page.reload();
    await page.locator('#comparison').waitFor();
    expect(await page.locator('#sign-in').isVisible()).toBe(false);
    await page.click('a[data-window="300"]');
    await expect.poll(() => page.locator('#window').textContent()).toBe('5 min');
    expect(new URL(page.url()).searchParams.get('window')).toBe('300');
    expect(await page.locator('a[data-window="300"]').getAttribute('aria-current')).not.toBeNull();

    await page.click('#sign-out');
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    expect(await page.locator('#content').isVisible()).toBe(false);
    expect(await page.evaluate('sessionStorage.getItem("flatgate.apiKey")')).toBeNull();

    // the key travelled only in the Authorization header of the JSON requests, never in a URL
    expect(requests.every((r) => !r.url.includes(KEY) && !decodeURIComponent(r.url).includes(KEY))).toBe(true);
    const data = requests.filter((r) => r.url.includes('/v1/models/stories260K/comparison'));
    expect(data.length).toBeGreaterThanOrEqual(4);
    expect(data.filter((r) => r.auth === `Bearer ${KEY}`).length).toBeGreaterThanOrEqual(3);
    expect(requests.filter((r) => r.auth !== undefined && !r.url.includes('/v1/models/stories260K/comparison?format=json'))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
