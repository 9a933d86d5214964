/**
 * @module The comparison as a page a person reads: a side-by-side table rendered on the server and
 * latency / accuracy plots drawn by an inline script from the JSON embedded in the page. Self-contained
 * (inline CSS and JS, no external assets; a CSP forbids any fetch).
 */
import type { compareVariants, VariantComparison } from '../serving/comparison.ts';
import { COMPARISON_PLOTS_SCRIPT } from './comparison-plots.ts';

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

const sig = (v: number) => String(Number(v.toPrecision(3)));

/** Seconds as `12.3 ms` or `1.23 s` (three significant digits). */
export function formatSeconds(s: number): string {
  return s < 1 ? `${sig(s * 1000)} ms` : `${sig(s)} s`;
}

/** A count as `260K`, `1.23M`, `7.00B` (three significant digits). */
export function formatCount(n: number): string {
  for (const [div, unit] of [[1e9, 'B'], [1e6, 'M'], [1e3, 'K']] as const) if (n >= div) return `${sig(n / div)}${unit}`;
  return String(n);
}

/** Bytes in binary units: `1.02 MiB`. */
export function formatBytes(b: number): string {
  for (const [div, unit] of [[2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB']] as const) if (b >= div) return `${sig(b / div)} ${unit}`;
  return `${b} B`;
}

type Num = number | null | undefined;
interface Row {
  label: string;
  metric: string;
  value: (v: VariantComparison) => Num;
  format: (x: number) => string;
  title?: (v: VariantComparison) => string;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const times = (x: number) => `${x.toFixed(3)}×`;
const evalOf = (v: VariantComparison) => (v.evaluation ?? {}) as { ppl?: Num; tasks?: Record<string, { acc?: Num; acc_norm?: Num; n?: number }>; agreement?: { top1?: Num } };
const num = (x: unknown): Num => (typeof x === 'number' && Number.isFinite(x) ? x : null);

function latencyRows(): Row[] {
  const rows: Row[] = [{ label: 'Requests', metric: 'requests', value: (v) => v.latency.requests, format: String }];
  const parts = [['queue', 'Queue time'], ['ttft', 'Time to first token'], ['itl', 'Inter-token latency'], ['e2e', 'End-to-end']] as const;
  for (const [key, name] of parts) {
    for (const q of ['p50', 'p95', 'p99'] as const) {
      if (key === 'queue' && q === 'p99') continue;
      rows.push({ label: `${name} ${q}`, metric: `${key}.${q}`, value: (v) => v.latency[key][q], format: formatSeconds, title: (v) => `${v.latency[key].n} samples` });
    }
  }
  rows.push({ label: 'Tokens/s (decode)', metric: 'tokens_per_second', value: (v) => v.latency.tokens_per_second, format: (x) => x.toFixed(1) });
  return rows;
}

function accuracyRows(variants: VariantComparison[]): Row[] {
  const tasks = [...new Set(variants.flatMap((v) => Object.keys(evalOf(v).tasks ?? {})))].sort();
  const rows: Row[] = [{ label: 'Perplexity (held-out)', metric: 'ppl', value: (v) => num(evalOf(v).ppl), format: (x) => x.toFixed(3) }];
  for (const t of tasks) {
    const score = (v: VariantComparison) => evalOf(v).tasks?.[t];
    rows.push({ label: `${t} acc`, metric: `task.${t}.acc`, value: (v) => num(score(v)?.acc), format: pct, title: (v) => `${score(v)?.n ?? '?'} examples` });
    rows.push({ label: `${t} acc std. error`, metric: `task.${t}.acc_stderr`, value: (v) => v.tasks?.[t]?.acc_stderr, format: (x) => `±${(x * 100).toFixed(1)}%`, title: (v) => `sqrt(p(1-p)/n), n = ${v.tasks?.[t]?.n ?? '?'}` });
    if (variants.some((v) => num(score(v)?.acc_norm) !== null)) rows.push({ label: `${t} acc_norm`, metric: `task.${t}.acc_norm`, value: (v) => num(score(v)?.acc_norm), format: pct });
  }
  if (variants.some((v) => num(evalOf(v).agreement?.top1) !== null)) {
    rows.push({ label: 'Top-1 agreement (offline)', metric: 'offline_agreement.top1', value: (v) => num(evalOf(v).agreement?.top1), format: pct });
  }
  rows.push(
    { label: 'Top-1 agreement (shadow)', metric: 'agreement.top1', value: (v) => v.agreement?.top1, format: pct, title: (v) => (v.agreement ? `${v.agreement.tokens} tokens` : '') },
    { label: 'Shadow requests', metric: 'agreement.requests', value: (v) => v.agreement?.requests, format: String },
  );
  return rows;
}

function sections(variants: VariantComparison[]): [string, Row[]][] {
  const ratioNames: [string, string][] = [['layers', 'Layers'], ['params', 'Parameters'], ['bytes', 'Size'], ['ttft_p50', 'TTFT p50'], ['itl_p50', 'ITL p50'], ['e2e_p50', 'End-to-end p50'], ['tokens_per_second', 'Tokens/s'], ['ppl', 'Perplexity']];
  return [
    ['Model', [
      { label: 'Layers', metric: 'layers', value: (v) => v.layers, format: String },
      { label: 'Parameters', metric: 'params', value: (v) => v.params, format: formatCount, title: (v) => (v.params ?? '').toLocaleString() },
      { label: 'Size on disk', metric: 'bytes', value: (v) => v.bytes, format: formatBytes, title: (v) => `${v.bytes ?? '?'} bytes` },
    ]],
    ['Latency and throughput', latencyRows()],
    ['Accuracy and agreement', accuracyRows(variants)],
    ['Ratio to the original', ratioNames.map(([k, label]) => ({ label, metric: `ratio.${k}`, value: (v) => v.ratios[k], format: times }))],
  ];
}

function cell(v: VariantComparison, r: Row): string {
  const x = r.value(v);
  const attrs = `data-variant="${escapeHtml(v.id)}" data-metric="${escapeHtml(r.metric)}"`;
  if (x === null || x === undefined || !Number.isFinite(x)) return `<td ${attrs} class="na">—</td>`;
  const title = r.title?.(v);
  return `<td ${attrs} data-value="${x}"${title ? ` title="${escapeHtml(title)}"` : ''}>${escapeHtml(r.format(x))}</td>`;
}

function table(c: Comparison): string {
  const head = c.variants
    .map((v) => `<th scope="col" data-variant="${escapeHtml(v.id)}">${escapeHtml(v.id)}<small>${escapeHtml(v.parent === null ? 'original' : `${v.method} of ${v.parent}`)}</small></th>`)
    .join('');
  const body = sections(c.variants)
    .map(([name, rows]) => `<tbody><tr class="section"><th colspan="${c.variants.length + 1}">${escapeHtml(name)}</th></tr>${rows
      .map((r) => `<tr data-metric="${escapeHtml(r.metric)}"><th scope="row">${escapeHtml(r.label)}</th>${c.variants.map((v) => cell(v, r)).join('')}</tr>`)
      .join('')}</tbody>`)
    .join('');
  return `<table id="comparison"><thead><tr><th scope="col">metric</th>${head}</tr></thead>${body}</table>`;
}

const STYLE = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#fff;margin:0 auto;padding:1.5rem;max-width:1300px}
h1{font-size:1.5rem;margin:0 0 .2rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
.meta,small,.empty{color:#555}.notice{background:#fff7e0;border:1px solid #e6c66b;padding:.6rem .8rem;border-radius:4px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}th,td{padding:.3rem .7rem;border-bottom:1px solid #e3e3e3;text-align:right}
thead th{vertical-align:bottom;border-bottom:2px solid #999}th small{display:block;font-weight:normal}
th[scope=row],thead th:first-child{text-align:left;font-weight:normal}tr.section th{text-align:left;font-weight:600;background:#f3f3f3}
td.na{color:#aaa}.plots{display:flex;flex-wrap:wrap;gap:1.5rem}figure{margin:0}figcaption{font-weight:600;margin-bottom:.3rem}
svg{max-width:100%;height:auto;font-size:11px}svg .grid{stroke:#eee}svg .axis,svg .tick{stroke:#555}svg text{fill:#333}
svg .label{font-size:12px;fill:#555}svg .series{fill:none;stroke-width:1.8}svg .legend-bg{fill:#fff;fill-opacity:.9;stroke:#ccc}a{color:#0b5cad}
`;

/**
 * Renders the comparison page.
 * @example return c.html(renderComparisonPage(await compareVariants(pool, metrics, id, 3600)));
 */
export function renderComparisonPage(c: Comparison): string {
  const id = encodeURIComponent(c.model);
  const traffic = c.variants.reduce((n, v) => n + v.latency.requests, 0);
  const win = c.window_seconds >= 3600 ? `${sig(c.window_seconds / 3600)} h` : `${sig(c.window_seconds)} s`;
  const notice = traffic === 0
    ? `<p class="notice" id="no-traffic">No traffic in the last ${win} yet: latency percentiles and plots fill in once requests reach <code>/v1/completions</code> or <code>/v1/chat/completions</code> with one of these models (or run <code>POST /v1/models/${escapeHtml(id)}/benchmark</code>).</p>`
    : '';
  const windows = [[300, '5 min'], [3600, '1 h'], [86400, '24 h']].map(([s, l]) => `<a href="?format=html&amp;window=${s}">${l}</a>`).join(' · ');
  const figure = (plot: string, caption: string) => `<figure><figcaption>${caption}</figcaption><div data-plot="${plot}"></div></figure>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(c.model)}: variants compared</title>
<style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(c.model)}: original and compressed variants</h1>
<p class="meta">Traffic over the last ${win} (${windows}) · generated ${escapeHtml(c.generated_at)} · <a href="/v1/models/${escapeHtml(id)}/comparison?format=json&amp;window=${c.window_seconds}">JSON</a></p>
${notice}
${table(c)}
<h2>Latency distributions</h2>
<p class="meta">Empirical CDFs: the fraction of samples at or below each latency. Further left is faster.</p>
<div class="plots">${figure('ecdf:ttft', 'Time to first token')}${figure('ecdf:e2e', 'End-to-end latency')}${figure('ecdf:itl', 'Inter-token latency')}</div>
<h2>Accuracy</h2>
<div class="plots">${figure('accuracy', 'Zero-shot accuracy (higher is better)')}${figure('ppl', 'Perplexity on held-out text (lower is better)')}</div>
<script type="application/json" id="comparison-data">${scriptJson(c)}</script>
<script>${COMPARISON_PLOTS_SCRIPT}</script>
</body></html>
`;
}
