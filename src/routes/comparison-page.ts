/**
 * @module The comparison as a page a person opens in a browser: a shell whose inline script signs in
 * (key in sessionStorage, sent as a header), fetches the comparison JSON, refreshes it, and renders the
 * verdicts, the fairness notice, the table, the time axis, the request mix, the matched workload and the
 * plots. Self-contained (inline CSS and JS, no external assets; the CSP allows fetches to this origin only).
 */
import { InvalidRequest } from '../errors.ts';
import type { compareVariants } from '../serving/comparison.ts';
import { COMPARISON_PLOTS_SCRIPT } from './comparison-plots.ts';
import { COMPARISON_APP_SCRIPT } from './comparison-script.ts';

/** Seconds of traffic a comparison covers: `?window=` (default one hour, at most 30 days). */
export function windowOf(raw: string | undefined): number {
  if (raw === undefined) return 3600;
  const w = Number(raw);
  if (!Number.isFinite(w) || w <= 0 || w > 30 * 86400) throw new InvalidRequest('window must be a number of seconds in (0, 2592000]', 'window');
  return w;
}

/** The JSON of GET /v1/models/:id/comparison. */
export type Comparison = Awaited<ReturnType<typeof compareVariants>>;

/** HTML-escapes text for element content and quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** JSON safe inside `<script type="application/json">`: no `</script`, `<!--` or line separators survive. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const STYLE = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#fff;margin:0 auto;padding:1.5rem;max-width:1300px}
h1{font-size:1.5rem;margin:0 0 .2rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
.meta,small,.empty{color:#555}.notice{background:#fff7e0;border:1px solid #e6c66b;padding:.6rem .8rem;border-radius:4px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}th,td{padding:.3rem .7rem;border-bottom:1px solid #e3e3e3;text-align:right}
thead th{vertical-align:bottom;border-bottom:2px solid #999}th small{display:block;font-weight:normal}
th[scope=row],thead th:first-child{text-align:left;font-weight:normal}tr.section th{text-align:left;font-weight:600;background:#f3f3f3}
td.na{color:#aaa}.error{color:#b00020}.verdict{border:1px solid #999;border-radius:4px;padding:.4rem .8rem;margin:.4rem 0}.verdict[data-status=recommended],.verdict[data-status=acceptable]{border-color:#2e7d32;background:#eef7ee}.verdict[data-status=degraded]{border-color:#b26a00;background:#fff4e0}.verdict[data-status=collapsed]{border-color:#b00020;background:#fdeeee}#fairness[data-status=mix_differs]{background:#fdeeee;border-color:#d88}td .bar{display:block;height:3px;background:#0072B2;margin-top:2px}a[aria-current]{font-weight:600;text-decoration:none;color:#1b1b1b}.plots{display:flex;flex-wrap:wrap;gap:1.5rem}figure{margin:0}figcaption{font-weight:600;margin-bottom:.3rem}
svg{max-width:100%;height:auto;font-size:11px}svg .grid{stroke:#eee}svg .axis,svg .tick{stroke:#555}svg text{fill:#333}
svg .label{font-size:12px;fill:#555}svg .series{fill:none;stroke-width:1.8}svg .legend-bg{fill:#fff;fill-opacity:.9;stroke:#ccc}a{color:#0b5cad}
`;

/** What the page needs besides the data: the model in the URL, the window, and whether it embeds data. */
export interface PageOptions {
  model: string;
  windowSeconds: number;
}

const figure = (plot: string, caption: string) => `<figure><figcaption>${caption}</figcaption><div data-plot="${plot}"></div></figure>`;

/**
 * Renders the comparison page. With `data` (a request that carried a key, or open mode) the numbers are
 * embedded and drawn at once; without, the page is a shell that asks for a key and fetches them.
 * @example return c.html(renderComparisonPage(await compareVariants(pool, sources, id, 3600)));
 */
export function renderComparisonPage(data: Comparison | null, opts?: PageOptions): string {
  const model = opts?.model ?? data?.model ?? '';
  const windowSeconds = opts?.windowSeconds ?? data?.window_seconds ?? 3600;
  const page = `/models/${encodeURIComponent(model)}/comparison`;
  const windows = [[300, '5 min'], [3600, '1 h'], [86400, '24 h']].map(([s, l]) => `<a href="${escapeHtml(page)}?window=${s}" data-window="${s}">${l}</a>`).join(' · ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; connect-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(model)}: variants compared</title>
<style>${STYLE}</style></head>
<body data-model="${escapeHtml(model)}" data-window="${windowSeconds}">
<h1>${escapeHtml(model)}: original and compressed variants</h1>
<p class="meta">Traffic over the last <span id="window">${windowSeconds >= 3600 ? `${windowSeconds / 3600} h` : `${Math.round(windowSeconds / 60)} min`}</span> (${windows}) · generated <span id="generated">${escapeHtml(data?.generated_at ?? '')}</span> · <span id="status" role="status"></span> · <button type="button" id="download">Download JSON</button> <button type="button" id="sign-out" hidden>Sign out</button></p>
<form id="sign-in" method="post" autocomplete="off" hidden>
<label>API key <input id="api-key" type="password" autocomplete="off" spellcheck="false" size="48"></label> <button type="submit">Sign in</button>
<p class="meta">The key stays in this browser tab (sessionStorage) and is sent only as an <code>Authorization</code> header to this gateway.</p>
<p id="sign-in-error" class="error" role="alert"></p>
</form>
<section id="verdict" hidden></section>
<section id="fairness" class="notice" hidden></section>
<main id="content" hidden>
<div id="table-box"></div>
<h2>Over the window</h2>
<p class="meta">Per time bucket (UTC), every gateway's traffic merged.</p>
<div class="plots">${figure('time:requests', 'Requests per minute')}${figure('time:errors', 'Error rate')}${figure('time:latency', 'End-to-end latency, median')}${figure('time:itl', 'Inter-token latency, median')}</div>
<h2>Request mix</h2>
<p class="meta">What each variant was asked: scoring calls (prompt only) and prompt and output lengths. Whole-request latency compares like with like only when these match.</p>
<div id="mix-box"></div>
<h2>Matched workload</h2>
<div id="matched"></div>
<h2>Latency distributions</h2>
<p class="meta">Cumulative distributions: the fraction of samples at or below each latency (from merged sketches, 1% relative accuracy). Further left is faster.</p>
<div class="plots">${figure('ecdf:ttft', 'Time to first token')}${figure('ecdf:e2e', 'End-to-end latency')}${figure('ecdf:itl', 'Inter-token latency')}</div>
<h2>Accuracy</h2>
<div class="plots">${figure('accuracy', 'Zero-shot accuracy (higher is better)')}${figure('ppl', 'Perplexity on held-out text (lower is better)')}</div>
</main>
${data ? `<script type="application/json" id="comparison-data">${scriptJson(data)}</script>` : ''}
<script>(() => {
'use strict';
${COMPARISON_PLOTS_SCRIPT}
${COMPARISON_APP_SCRIPT}
})();</script>
</body></html>
`;
}
