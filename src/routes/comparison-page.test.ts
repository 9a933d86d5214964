import { describe, expect, it } from 'vitest';
import { escapeHtml, formatBytes, formatCount, formatSeconds, renderComparisonPage, scriptJson, type Comparison } from './comparison-page.ts';

const none = { p50: null, p95: null, p99: null, n: 0 };
const idle: Comparison = {
  object: 'comparison',
  model: 'tiny',
  window_seconds: 3600,
  generated_at: '2026-01-01T00:00:00.000Z',
  variants: [
    { id: 'tiny', method: 'original', parent: null, layers: 2, params: 1234, bytes: 4936, evaluation: { ppl: 3 }, tasks: {}, agreement: null, ratios: { layers: 1 },
      latency: { requests: 0, queue: none, ttft: none, itl: none, e2e: none, tokens_per_second: null, samples: { ttft: [], e2e: [], itl: [] } } },
  ],
};

describe('comparison page formatting', () => {
  it('formats durations, counts and sizes with three significant digits', () => {
    expect(formatSeconds(0.0123456)).toBe('12.3 ms');
    expect(formatSeconds(0.000412)).toBe('0.412 ms');
    expect(formatSeconds(0.9996)).toBe('1000 ms');
    expect(formatSeconds(1.23456)).toBe('1.23 s');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(259_584)).toBe('260K');
    expect(formatCount(124_700_000)).toBe('125M');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1_048_576 * 1.5)).toBe('1.5 MiB');
  });

  it('escapes HTML and keeps embedded JSON from closing its script', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
    const value = { s: '</script><!-- \u2028 & >' };
    const text = scriptJson(value);
    expect(text).not.toMatch(/<|>|\u2028/);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('renders an idle model with a notice and no external references', () => {
    const html = renderComparisonPage(idle);
    expect(html).toContain('id="no-traffic"');
    expect(html).toContain('<td data-variant="tiny" data-metric="layers" data-value="2">2</td>');
    expect(html).toContain('<td data-variant="tiny" data-metric="ttft.p50" class="na">—</td>');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).toContain("default-src 'none'");
  });

  it('shows each task accuracy with its standard error', () => {
    const [v] = idle.variants;
    const html = renderComparisonPage({ ...idle, variants: [{ ...v, evaluation: { tasks: { piqa: { acc: 0.625, n: 40 } } }, tasks: { piqa: { acc: 0.625, acc_stderr: Math.sqrt((0.625 * 0.375) / 40), n: 40 } } }] });
    expect(html).toMatch(/<td data-variant="tiny" data-metric="task.piqa.acc" data-value="0.625" title="40 examples">62.5%<\/td>/);
    expect(html).toMatch(/<td data-variant="tiny" data-metric="task.piqa.acc_stderr" data-value="0.0765\d*" title="[^"]*n = 40">±7.7%<\/td>/);
  });
});
