import { describe, expect, it } from 'vitest';
import { escapeHtml, renderComparisonPage, scriptJson, type Comparison } from './comparison-page.ts';

const none = { p50: null, p95: null, p99: null, n: 0 };
const idle: Comparison = {
  object: 'comparison',
  model: 'tiny',
  window_seconds: 3600,
  since: '2026-01-01T00:00:00.000Z',
  bucket_seconds: 60,
  generated_at: '2026-01-01T01:00:00.000Z',
  fairness: { status: 'comparable', mix_differs: false, reasons: [] },
  matched_workload: null,
  variants: [
    {
      id: 'tiny', method: 'original', parent: null, layers: 2, params: 1234, bytes: 4936, evaluation: { ppl: 3 }, tasks: {}, verdict: null, agreement: null, ratios: { layers: 1 }, series: [],
      mix: { requests: 0, scoring_share: null, prompt: {}, output: {}, mean_prompt_tokens: null, mean_completion_tokens: null },
      latency: { requests: 0, errors: 0, aborted: 0, request_rate: 0, error_rate: null, queue: none, ttft: none, itl: none, e2e: none, scoring: none, ttft_by_prompt: {}, tokens_per_second: null, prefill_tokens_per_second: null, decode_tps: none, prefill_tps: none, cdf: { ttft: [], itl: [], e2e: [] } },
    },
  ],
};

describe('comparison page', () => {
  it('escapes HTML and keeps embedded JSON from closing its script', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
    const value = { s: '</script><!-- \u2028 & >' };
    const text = scriptJson(value);
    expect(text).not.toMatch(/<|>|\u2028/);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('embeds the data it was given, references nothing outside the page, and allows fetches to its own origin only', () => {
    const html = renderComparisonPage(idle);
    expect(JSON.parse(html.match(/<script type="application\/json" id="comparison-data">(.*?)<\/script>/)![1])).toEqual(idle);
    expect(html).toContain('data-model="tiny"');
    expect(html).not.toMatch(/(src|href|action)="(https?:)?\/\//);
    expect(html).toContain("default-src 'none'; connect-src 'self'");
    expect(html).toContain("form-action 'none'");
  });

  it('without data is a shell: no numbers, a sign-in form whose key field has no name (a plain submit sends nothing)', () => {
    const html = renderComparisonPage(null, { model: 'a<b', windowSeconds: 300 });
    expect(html).not.toContain('id="comparison-data"');
    expect(html).toContain('data-model="a&#60;b"');
    expect(html).toMatch(/<input id="api-key" type="password"[^>]*>/);
    expect(html.match(/<input[^>]*>/g)!.some((i) => / name=/.test(i))).toBe(false);
    expect(html).toContain('href="/models/a%3Cb/comparison?window=300"');
  });

  it('hands each task accuracy and its standard error to the page script (test/api/comparison-page.test.ts renders them in Chromium)', () => {
    const [v] = idle.variants;
    const html = renderComparisonPage({ ...idle, variants: [{ ...v, evaluation: { tasks: { piqa: { acc: 0.625, n: 40 } } }, tasks: { piqa: { acc: 0.625, acc_stderr: Math.sqrt((0.625 * 0.375) / 40), n: 40 } } }] });
    const data = JSON.parse(html.match(/<script[^>]*id="comparison-data"[^>]*>([^<]*)<\/script>/)![1]);
    expect(data.variants[0].tasks.piqa.acc).toBe(0.625);
    expect(data.variants[0].tasks.piqa.acc_stderr).toBeCloseTo(0.0765466, 6);
  });
});
