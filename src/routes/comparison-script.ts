/**
 * @module The comparison page's own logic, as plain browser JavaScript in a string: sign-in (the API key
 * kept in this tab's sessionStorage, sent only as an Authorization header, never in a URL), fetching the
 * comparison JSON, refreshing it, and rendering the verdicts, the fairness notice, the table, the request
 * mix and the matched workload with DOM calls only (text is never parsed as HTML).
 */

/** The script's source; it runs after COMPARISON_PLOTS_SCRIPT in one scope. */
export const COMPARISON_APP_SCRIPT = String.raw`
  const KEY = 'flatgate.apiKey';
  const body = document.body;
  const model = body.getAttribute('data-model');
  const params = new URLSearchParams(location.search);
  let windowSeconds = Number(params.get('window')) || Number(body.getAttribute('data-window')) || 3600;
  const refreshMs = Math.max(1, Number(params.get('refresh')) || 15) * 1000;
  const embedded = document.getElementById('comparison-data');
  let data = embedded ? JSON.parse(embedded.textContent) : null;
  let live = data !== null;
  const $ = (id) => document.getElementById(id);

  const storedKey = () => { try { return sessionStorage.getItem(KEY); } catch { return null; } };
  const fmt = {
    seconds: (s) => (s < 1 ? sig(s * 1000) + ' ms' : sig(s) + ' s'),
    count: (n) => { for (const [d, u] of [[1e9, 'B'], [1e6, 'M'], [1e3, 'K']]) if (n >= d) return sig(n / d) + u; return String(n); },
    bytes: (b) => { for (const [d, u] of [[2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB']]) if (b >= d) return sig(b / d) + ' ' + u; return b + ' B'; },
    pct: (x) => (x * 100).toFixed(1) + '%',
    times: (x) => x.toFixed(3) + '\u00d7',
    rate: (x) => sig(x * 60) + '/min',
    tps: (x) => x.toFixed(1),
  };
  window.flatgateFormat = fmt;
  const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const h = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const k in attrs || {}) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  };
  const status = (text) => { $('status').textContent = text; };

  function showSignIn(message) {
    $('sign-in').hidden = false;
    $('sign-in-error').textContent = message || '';
    $('sign-out').hidden = true;
    $('api-key').focus();
  }

  async function load() {
    const key = storedKey();
    const headers = { accept: 'application/json' };
    if (key) headers.authorization = 'Bearer ' + key;
    const url = '/v1/models/' + encodeURIComponent(model) + '/comparison?format=json&window=' + windowSeconds;
    let res;
    try {
      res = await fetch(url, { headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' });
    } catch (err) {
      status('cannot reach the gateway (' + err.message + '); retrying');
      return;
    }
    if (res.status === 401 || res.status === 403) {
      live = false;
      if (key) sessionStorage.removeItem(KEY);
      showSignIn(key ? 'That key was refused (' + res.status + (res.status === 403 ? ': it lacks the inference scope' : ': unknown or revoked') + ').' : '');
      status('sign in to see the comparison');
      return;
    }
    const json = await res.json().catch(() => null);
    if (!res.ok) {
      live = false;
      status((json && json.error && json.error.message) || 'the gateway answered ' + res.status);
      return;
    }
    $('sign-in').hidden = true;
    $('sign-out').hidden = !key;
    data = json;
    live = true;
    render();
    status('updated ' + new Date().toISOString().slice(11, 19) + ' UTC, every ' + refreshMs / 1000 + ' s');
  }

  function cell(v, metric, value, format, title) {
    const x = num(value);
    if (x === null) return h('td', { 'data-variant': v.id, 'data-metric': metric, class: 'na' }, '\u2014');
    return h('td', { 'data-variant': v.id, 'data-metric': metric, 'data-value': x, title }, format(x));
  }

  function rows() {
    const vs = data.variants;
    const evalOf = (v) => v.evaluation || {};
    const L = (v) => v.latency;
    const out = [['Model', [
      ['Layers', 'layers', (v) => v.layers, String],
      ['Parameters', 'params', (v) => v.params, fmt.count, (v) => (v.params || 0).toLocaleString()],
      ['Size on disk', 'bytes', (v) => v.bytes, fmt.bytes, (v) => (v.bytes === null ? '?' : v.bytes) + ' bytes'],
    ]]];
    out.push(['Traffic', [
      ['Requests', 'requests', (v) => L(v).requests, String],
      ['Request rate', 'request_rate', (v) => L(v).request_rate, fmt.rate],
      ['Errors', 'errors', (v) => L(v).errors, String],
      ['Error rate', 'error_rate', (v) => L(v).error_rate, fmt.pct],
      ['Scoring calls', 'mix.scoring_share', (v) => v.mix.scoring_share, fmt.pct],
      ['Mean prompt tokens', 'mix.mean_prompt_tokens', (v) => v.mix.mean_prompt_tokens, (x) => x.toFixed(1)],
      ['Mean output tokens', 'mix.mean_completion_tokens', (v) => v.mix.mean_completion_tokens, (x) => x.toFixed(1)],
    ]]);
    const lat = [];
    for (const [key, name] of [['queue', 'Queue time'], ['ttft', 'Time to first token'], ['itl', 'Inter-token latency'], ['e2e', 'End-to-end']]) {
      for (const q of ['p50', 'p95', 'p99']) {
        if (key === 'queue' && q === 'p99') continue;
        lat.push([name + ' ' + q, key + '.' + q, (v) => L(v)[key][q], fmt.seconds, (v) => L(v)[key].n + ' samples']);
      }
    }
    if (vs.some((v) => L(v).scoring && L(v).scoring.n > 0)) for (const q of ['p50', 'p95']) lat.push(['Prompt scoring ' + q, 'scoring.' + q, (v) => L(v).scoring[q], fmt.seconds, (v) => L(v).scoring.n + ' scored prompts']);
    lat.push(['Tokens/s (decode)', 'tokens_per_second', (v) => L(v).tokens_per_second, fmt.tps]);
    lat.push(['Tokens/s (prefill)', 'prefill_tokens_per_second', (v) => L(v).prefill_tokens_per_second, fmt.tps]);
    const buckets = [...new Set(vs.flatMap((v) => Object.keys(L(v).ttft_by_prompt || {})))];
    for (const b of buckets) lat.push(['TTFT p50, prompt ' + b + ' tokens', 'ttft_by_prompt.' + b + '.p50', (v) => (L(v).ttft_by_prompt[b] || {}).p50, fmt.seconds, (v) => ((L(v).ttft_by_prompt[b] || {}).n || 0) + ' samples']);
    out.push(['Latency and throughput', lat]);
    const tasks = [...new Set(vs.flatMap((v) => Object.keys(evalOf(v).tasks || {})))].sort();
    const acc = [['Perplexity (held-out)', 'ppl', (v) => evalOf(v).ppl, (x) => x.toFixed(3)]];
    for (const t of tasks) {
      const score = (v) => (evalOf(v).tasks || {})[t] || {};
      const err = (s) => num(s.acc_stderr) ?? num(s.stderr);
      acc.push([t + ' acc', 'task.' + t + '.acc', (v) => score(v).acc, fmt.pct, (v) => (score(v).n || '?') + ' examples']);
      if (vs.some((v) => err(score(v)) !== null)) acc.push([t + ' acc \u00b1 stderr', 'task.' + t + '.acc_stderr', (v) => err(score(v)), (x) => '\u00b1 ' + fmt.pct(x)]);
      if (vs.some((v) => num(score(v).acc_norm) !== null)) acc.push([t + ' acc_norm', 'task.' + t + '.acc_norm', (v) => score(v).acc_norm, fmt.pct]);
    }
    if (vs.some((v) => num((evalOf(v).agreement || {}).top1) !== null)) acc.push(['Top-1 agreement (offline)', 'offline_agreement.top1', (v) => (evalOf(v).agreement || {}).top1, fmt.pct]);
    acc.push(['Top-1 agreement (shadow)', 'agreement.top1', (v) => v.agreement && v.agreement.top1, fmt.pct, (v) => (v.agreement ? v.agreement.tokens + ' tokens' : '')]);
    acc.push(['Shadow requests', 'agreement.requests', (v) => v.agreement && v.agreement.requests, String]);
    out.push(['Accuracy and agreement', acc]);
    const names = { layers: 'Layers', params: 'Parameters', bytes: 'Size', ttft_p50: 'TTFT p50', itl_p50: 'ITL p50', e2e_p50: 'End-to-end p50', tokens_per_second: 'Tokens/s (decode)', prefill_tokens_per_second: 'Tokens/s (prefill)', ppl: 'Perplexity' };
    const keys = [...new Set(vs.flatMap((v) => Object.keys(v.ratios)))];
    out.push(['Ratio to the original', keys.map((k) => [names[k] || k.replace('ttft_p50|prompt:', 'TTFT p50, prompt ') , 'ratio.' + k, (v) => v.ratios[k], fmt.times])]);
    return out;
  }

  function table() {
    const vs = data.variants;
    const t = h('table', { id: 'comparison' });
    const head = h('tr', {}, h('th', { scope: 'col' }, 'metric'));
    for (const v of vs) head.append(h('th', { scope: 'col', 'data-variant': v.id }, v.id, h('small', {}, v.parent === null ? 'original' : v.method + ' of ' + v.parent)));
    t.append(h('thead', {}, head));
    for (const [name, list] of rows()) {
      const tb = h('tbody', {}, h('tr', { class: 'section' }, h('th', { colspan: vs.length + 1 }, name)));
      for (const [label, metric, value, format, title] of list) {
        const tr = h('tr', { 'data-metric': metric }, h('th', { scope: 'row' }, label));
        for (const v of vs) tr.append(cell(v, metric, value(v), format, title && title(v)));
        tb.append(tr);
      }
      t.append(tb);
    }
    return t;
  }

  // the verdict in words a person understands (serving/verdict.ts decides it)
  const VERDICT_WORDS = {
    recommended: 'recommended: as good as the original by the model\'s criteria, and measurably faster',
    acceptable: 'acceptable: within the model\'s criteria',
    degraded: 'degraded: worse than the model\'s criteria allow',
    collapsed: 'collapsed: the compression broke this variant; do not serve it',
  };
  function verdicts() {
    const box = $('verdict');
    box.replaceChildren();
    for (const v of data.variants) {
      if (!v.verdict) continue;
      const st = String(v.verdict.status || 'unknown');
      const reasons = Array.isArray(v.verdict.reasons) ? v.verdict.reasons : [];
      const words = VERDICT_WORDS[st] || st;
      box.append(h('div', { class: 'verdict', 'data-variant': v.id, 'data-status': st }, h('strong', {}, v.id + ': ' + words), reasons.length ? h('ul', {}, ...reasons.map((r) => h('li', {}, String(r)))) : null));
    }
    box.hidden = box.childElementCount === 0;
  }

  function fairness() {
    const box = $('fairness');
    const f = data.fairness || { status: 'comparable', reasons: [] };
    box.replaceChildren();
    box.setAttribute('data-status', f.status);
    box.hidden = f.status === 'comparable';
    const title = f.mix_differs ? 'The request mix differs between variants' : 'Too little traffic to compare the request mix';
    box.append(h('strong', {}, title), h('ul', {}, ...f.reasons.map((r) => h('li', {}, r))));
  }

  function mixTable() {
    const vs = data.variants;
    const t = h('table', { id: 'mix' });
    const head = h('tr', {}, h('th', { scope: 'col' }, 'share of requests'));
    for (const v of vs) head.append(h('th', { scope: 'col', 'data-variant': v.id }, v.id));
    t.append(h('thead', {}, head));
    const tb = h('tbody');
    const add = (label, metric, get) => {
      const tr = h('tr', { 'data-metric': metric }, h('th', { scope: 'row' }, label));
      for (const v of vs) {
        const x = num(get(v));
        const td = cell(v, metric, x, fmt.pct);
        if (x !== null) td.append(h('span', { class: 'bar', style: 'width:' + Math.round(x * 100) + '%' }));
        tr.append(td);
      }
      tb.append(tr);
    };
    add('scoring calls (max_tokens 0)', 'mix.scoring', (v) => v.mix.scoring_share);
    for (const side of ['prompt', 'output']) {
      const buckets = [...new Set(vs.flatMap((v) => Object.keys(v.mix[side])))];
      for (const b of buckets) add(side + ' ' + b + ' tokens', 'mix.' + side + '.' + b, (v) => (v.mix.requests ? v.mix[side][b] || 0 : null));
    }
    t.append(tb);
    return t;
  }

  function matched() {
    const box = $('matched');
    box.replaceChildren();
    const m = data.matched_workload;
    if (!m) {
      box.append(h('p', { class: 'empty' }, 'No benchmark yet: POST /v1/models/' + data.model + '/benchmark runs the same prompts on every variant, interleaved.'));
      return;
    }
    const s = m.settings || {};
    box.append(h('p', { class: 'meta' }, 'Run ' + m.created_at + ': ' + s.requests + ' requests per variant, ' + s.max_tokens + ' tokens each, concurrency ' + s.concurrency + (s.interleaved ? ', variants interleaved' : '') + '.'));
    const t = h('table', { id: 'matched-table' });
    t.append(h('thead', {}, h('tr', {}, ...['variant', 'requests', 'TTFT p50', 'ITL p50', 'end-to-end p50', 'tokens/s (decode)', 'tokens/s (prefill)', 'decode ratio'].map((x) => h('th', { scope: 'col' }, x)))));
    const tb = h('tbody');
    for (const v of m.variants || []) {
      const l = v.latency || {};
      tb.append(h('tr', { 'data-variant': v.id }, h('th', { scope: 'row' }, v.id),
        cell(v, 'requests', l.requests, String), cell(v, 'ttft.p50', l.ttft && l.ttft.p50, fmt.seconds), cell(v, 'itl.p50', l.itl && l.itl.p50, fmt.seconds),
        cell(v, 'e2e.p50', l.e2e && l.e2e.p50, fmt.seconds), cell(v, 'tokens_per_second', l.tokens_per_second, fmt.tps),
        cell(v, 'prefill_tokens_per_second', l.prefill_tokens_per_second, fmt.tps), cell(v, 'ratio.tokens_per_second', v.ratios && v.ratios.tokens_per_second, fmt.times)));
    }
    t.append(tb);
    box.append(t);
  }

  function render() {
    const win = data.window_seconds >= 3600 ? sig(data.window_seconds / 3600) + ' h' : sig(data.window_seconds / 60) + ' min';
    $('window').textContent = win;
    $('generated').textContent = data.generated_at;
    for (const a of document.querySelectorAll('a[data-window]')) a.toggleAttribute('aria-current', Number(a.getAttribute('data-window')) === data.window_seconds);
    verdicts();
    fairness();
    const traffic = data.variants.reduce((n, v) => n + v.latency.requests, 0);
    const notice = $('no-traffic');
    if (traffic === 0 && !notice) $('content').prepend(h('p', { class: 'notice', id: 'no-traffic' }, 'No traffic in the last ' + win + ' yet: latency percentiles and plots fill in once requests reach /v1/completions or /v1/chat/completions with one of these models (or run POST /v1/models/' + data.model + '/benchmark).'));
    if (traffic > 0 && notice) notice.remove();
    $('table-box').replaceChildren(table());
    $('mix-box').replaceChildren(mixTable());
    matched();
    $('content').hidden = false;
    drawPlots($('content'));
    document.documentElement.setAttribute('data-plots', 'drawn');
    document.documentElement.setAttribute('data-rendered', String(Number(document.documentElement.getAttribute('data-rendered') || 0) + 1));
  }

  $('sign-in').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('api-key');
    const key = input.value.trim();
    input.value = '';
    if (!key) return showSignIn('Enter an API key.');
    sessionStorage.setItem(KEY, key);
    load();
  });
  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    data = null;
    live = false;
    $('content').hidden = true;
    $('verdict').hidden = true;
    $('fairness').hidden = true;
    showSignIn('Signed out.');
  });
  $('download').addEventListener('click', () => {
    if (!data) return;
    const a = h('a', { href: URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' })), download: model + '-comparison.json' });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  });
  for (const a of document.querySelectorAll('a[data-window]')) {
    a.addEventListener('click', (e) => {
      e.preventDefault();
      windowSeconds = Number(a.getAttribute('data-window'));
      const p = new URLSearchParams(location.search);
      p.set('window', String(windowSeconds));
      history.replaceState(null, '', location.pathname + '?' + p);
      load();
    });
  }
  setInterval(() => { if (live && !document.hidden) load(); }, refreshMs);
  if (data) {
    $('sign-out').hidden = !storedKey();
    render();
    status('as served at ' + data.generated_at + '; refreshes every ' + refreshMs / 1000 + ' s');
  } else if (storedKey()) load();
  else {
    // the shell is served only to a browser without a key on a gateway that wants one
    showSignIn('');
    status('sign in to see the comparison');
  }
`;
