/**
 * @module The comparison page's plots, as plain browser JavaScript in a string: inline SVG drawn from the
 * comparison JSON (distributions of TTFT, inter-token and end-to-end latency per variant from their
 * merged sketches; requests, errors and latency over the window; zero-shot accuracy and perplexity
 * bars). No libraries, no network.
 */

/**
 * The plots' source, a fragment of the page script's scope: it reads the page's current `data` and
 * defines `drawPlots(root)`, which fills every element with a `data-plot` attribute (`ecdf:ttft`,
 * `ecdf:itl`, `ecdf:e2e`, `time:requests`, `time:errors`, `time:latency`, `time:itl`, `accuracy`, `ppl`).
 */
export const COMPARISON_PLOTS_SCRIPT = String.raw`
  const NS = 'http://www.w3.org/2000/svg';
  const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];
  const W = 600, H = 300, M = { l: 60, r: 30, t: 12, b: 46 };
  const color = (i) => COLORS[i % COLORS.length];

  function el(name, attrs, parent, text) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function svgIn(box, label) {
    return el('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img', 'aria-label': label }, box);
  }
  function empty(box, message) {
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = message;
    box.appendChild(p);
  }
  const sig = (v) => String(Number(v.toPrecision(3)));
  const fmtMs = (ms) => (ms >= 1000 ? sig(ms / 1000) + ' s' : sig(ms) + ' ms');

  function linearTicks(lo, hi) {
    const raw = (hi - lo) / 5;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }
  function logTicks(lo, hi) {
    const out = [];
    for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
      for (const m of [1, 2, 5]) {
        const v = m * Math.pow(10, k);
        if (v >= lo && v <= hi) out.push(Number(v.toPrecision(6)));
      }
    }
    return out;
  }

  function axes(svg, sx, sy, xt, yt, xLabel, yLabel, fmtX, fmtY) {
    const g = el('g', { class: 'axes' }, svg);
    for (const v of yt) {
      el('line', { x1: M.l, x2: W - M.r, y1: sy(v), y2: sy(v), class: 'grid' }, g);
      el('text', { x: M.l - 6, y: sy(v) + 4, 'text-anchor': 'end' }, g, fmtY(v));
    }
    for (const v of xt) {
      el('line', { x1: sx(v), x2: sx(v), y1: H - M.b, y2: H - M.b + 5, class: 'tick' }, g);
      el('text', { x: sx(v), y: H - M.b + 18, 'text-anchor': 'middle' }, g, fmtX(v));
    }
    el('line', { x1: M.l, x2: W - M.r, y1: H - M.b, y2: H - M.b, class: 'axis' }, g);
    el('line', { x1: M.l, x2: M.l, y1: M.t, y2: H - M.b, class: 'axis' }, g);
    el('text', { x: (M.l + W - M.r) / 2, y: H - 6, 'text-anchor': 'middle', class: 'label' }, g, xLabel);
    el('text', { x: 14, y: (M.t + H - M.b) / 2, 'text-anchor': 'middle', class: 'label', transform: 'rotate(-90 14 ' + (M.t + H - M.b) / 2 + ')' }, g, yLabel);
  }
  function legend(svg, items, corner) {
    const g = el('g', { class: 'legend' }, svg);
    const bg = el('rect', { class: 'legend-bg', rx: 3 }, g);
    items.forEach((it, i) => {
      const y = 8 + i * 16;
      el('rect', { x: 6, y: y - 4, width: 10, height: 10, fill: it.color }, g);
      el('text', { x: 22, y: y + 5 }, g, it.label);
    });
    const box = g.getBBox();
    const w = box.width + 12, h = items.length * 16 + 6;
    bg.setAttribute('width', w);
    bg.setAttribute('height', h);
    const x = corner === 'br' ? W - M.r - w - 8 : M.l + 8;
    const y = corner === 'br' ? H - M.b - h - 8 : M.t + 2;
    g.setAttribute('transform', 'translate(' + x + ' ' + y + ')');
  }

  // distributions come as [seconds, fraction] points of each variant's merged sketch
  function ecdf(box, key) {
    const series = data.variants.map((v, i) => {
      const pts = (((v.latency || {}).cdf || {})[key] || []).filter((p) => Number.isFinite(p[0]) && p[0] >= 0).map((p) => [p[0] * 1000, p[1]]);
      const n = ((v.latency || {})[key] || {}).n || 0;
      return { id: v.id, color: color(i), pts, n };
    });
    const all = series.flatMap((s) => s.pts.map((p) => p[0]));
    if (all.length === 0) return empty(box, 'No samples in this window yet: send some completions to draw this plot.');
    const pos = all.filter((x) => x > 0);
    let lo = pos.length ? Math.min(...pos) : 0;
    let hi = Math.max(...all);
    const log = lo > 0 && hi / lo > 20;
    if (!log) { lo = 0; hi = hi > 0 ? hi * 1.05 : 1; }
    else { lo = lo / 1.2; hi = hi * 1.2; }
    const span = (v) => (log ? Math.log10(Math.max(v, lo)) - Math.log10(lo) : v - lo) / (log ? Math.log10(hi) - Math.log10(lo) : hi - lo);
    const sx = (v) => M.l + span(v) * (W - M.l - M.r);
    const sy = (p) => H - M.b - p * (H - M.t - M.b);
    const svg = svgIn(box, 'Distribution of ' + key + ' latency per variant');
    axes(svg, sx, sy, log ? logTicks(lo, hi) : linearTicks(lo, hi), [0, 0.25, 0.5, 0.75, 1],
      (log ? 'log scale, ' : '') + 'milliseconds', 'fraction of samples', fmtMs, (p) => Math.round(p * 100) + '%');
    for (const s of series) {
      if (s.pts.length === 0) continue;
      let d = 'M' + sx(s.pts[0][0]).toFixed(2) + ' ' + sy(0).toFixed(2);
      for (const [x, p] of s.pts) d += ' H' + sx(x).toFixed(2) + ' V' + sy(p).toFixed(2);
      d += ' H' + (W - M.r);
      el('path', { d, class: 'series', stroke: s.color, 'data-variant': s.id, 'data-n': s.n }, svg);
    }
    legend(svg, series.map((s) => ({ color: s.color, label: s.id + ' (n=' + s.n + ')' })), 'br');
  }

  // a quantity per time bucket, one line per variant (buckets without a value leave a gap)
  function timeline(box, value, yLabel, fmtY, what) {
    const series = data.variants.map((v, i) => ({ id: v.id, color: color(i), pts: (v.series || []).map((p) => [p.t, value(p)]) }));
    const ts = series.flatMap((s) => s.pts.map((p) => p[0]));
    const ys = series.flatMap((s) => s.pts.map((p) => p[1]).filter((y) => typeof y === 'number' && Number.isFinite(y)));
    if (ts.length === 0 || ys.every((y) => y === 0)) return empty(box, 'No ' + what + ' in this window yet.');
    const bucket = (data.bucket_seconds || 60) * 1000;
    const t0 = Math.min(...ts), t1 = Math.max(...ts) + bucket;
    const top = Math.max(...ys) > 0 ? Math.max(...ys) * 1.1 : 1;
    const sx = (t) => M.l + ((t - t0) / (t1 - t0)) * (W - M.l - M.r);
    const sy = (y) => H - M.b - (y / top) * (H - M.t - M.b);
    const svg = svgIn(box, what + ' over time per variant');
    const step = Math.max(bucket, Math.ceil((t1 - t0) / 6 / 60000) * 60000);
    const xt = [];
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) xt.push(t);
    axes(svg, sx, sy, xt, linearTicks(0, top).filter((y) => y <= top), 'time (UTC)', yLabel, (t) => new Date(t).toISOString().slice(11, 16), fmtY);
    for (const s of series) {
      let d = '';
      let pen = false;
      const g = el('g', { class: 'points', 'data-variant': s.id }, svg);
      for (const [t, y] of s.pts) {
        if (typeof y !== 'number' || !Number.isFinite(y)) { pen = false; continue; }
        const x = sx(t + bucket / 2).toFixed(2), yy = sy(y).toFixed(2);
        d += (pen ? ' L' : ' M') + x + ' ' + yy;
        pen = true;
        const c = el('circle', { cx: x, cy: yy, r: 2.5, fill: s.color, 'data-t': t, 'data-value': y }, g);
        el('title', {}, c, s.id + ' ' + new Date(t).toISOString().slice(11, 16) + ': ' + fmtY(y));
      }
      if (d) el('path', { d: d.trim(), class: 'series', stroke: s.color, 'data-variant': s.id }, svg);
    }
    legend(svg, series.map((s) => ({ color: s.color, label: s.id })), 'tl');
  }

  function bars(box, groups, names, value, yMax, fmtY, yLabel, what) {
    const cells = [];
    groups.forEach((g) => names.forEach((v, i) => { const y = value(v, g); if (typeof y === 'number' && Number.isFinite(y)) cells.push([g, v, i, y]); }));
    if (cells.length === 0) return empty(box, 'No ' + what + ' in these variants\u2019 evaluation.');
    const top = yMax ?? Math.max(...cells.map((c) => c[3])) * 1.1;
    const sy = (y) => H - M.b - (y / top) * (H - M.t - M.b);
    const band = (W - M.l - M.r) / groups.length;
    const bw = Math.min(40, (band * 0.8) / names.length);
    const svg = svgIn(box, what + ' per variant');
    const gx = (gi) => M.l + band * gi + band / 2;
    axes(svg, () => 0, sy, [], linearTicks(0, top).filter((t) => t <= top), '', yLabel, String, fmtY);
    groups.forEach((g, gi) => el('text', { x: gx(gi), y: H - M.b + 18, 'text-anchor': 'middle', class: 'axes' }, svg, g));
    for (const [g, v, i, y] of cells) {
      const x = gx(groups.indexOf(g)) - (bw * names.length) / 2 + i * bw;
      const r = el('rect', { x: x.toFixed(2), y: sy(y).toFixed(2), width: (bw - 2).toFixed(2), height: (H - M.b - sy(y)).toFixed(2), fill: color(i), class: 'bar', 'data-variant': v.id, 'data-group': g, 'data-value': y }, svg);
      el('title', {}, r, v.id + ' ' + g + ': ' + fmtY(y));
    }
    legend(svg, names.map((v, i) => ({ color: color(i), label: v.id })), 'tl');
  }

  function drawPlots(root) {
    const variants = data.variants;
    const tasks = [...new Set(variants.flatMap((v) => Object.keys((v.evaluation && v.evaluation.tasks) || {})))].sort();
    const accOf = (v, t) => { const s = ((v.evaluation && v.evaluation.tasks) || {})[t]; return s && typeof s.acc === 'number' ? s.acc : null; };
    const pplOf = (v) => (v.evaluation && typeof v.evaluation.ppl === 'number' ? v.evaluation.ppl : null);
    const perMinute = 60 / (data.bucket_seconds || 60);
    for (const box of root.querySelectorAll('[data-plot]')) {
      box.replaceChildren();
      const kind = box.getAttribute('data-plot');
      if (kind.startsWith('ecdf:')) ecdf(box, kind.slice(5));
      else if (kind === 'accuracy') bars(box, tasks, variants, accOf, 1, (y) => Math.round(y * 1000) / 10 + '%', 'accuracy', 'zero-shot task accuracy');
      else if (kind === 'ppl') bars(box, ['perplexity'], variants, (v) => pplOf(v), null, (y) => sig(y), 'perplexity', 'perplexity');
      else if (kind === 'time:requests') timeline(box, (p) => p.requests * perMinute, 'requests per minute', (y) => sig(y), 'requests');
      else if (kind === 'time:errors') timeline(box, (p) => (p.requests > 0 ? p.errors / p.requests : null), 'share of requests failed', (y) => Math.round(y * 1000) / 10 + '%', 'errors');
      else if (kind === 'time:latency') timeline(box, (p) => (p.e2e_p50 === null ? null : p.e2e_p50 * 1000), 'end-to-end p50, ms', (y) => sig(y), 'latency');
      else if (kind === 'time:itl') timeline(box, (p) => (p.itl_p50 === null ? null : p.itl_p50 * 1000), 'inter-token p50, ms', (y) => sig(y), 'inter-token latency');
    }
  }
`;
