/**
 * @module `/docs`: a self-contained page (no CDN, no external script) that fetches `/openapi.json` and
 * lists every operation with its scope, parameters and request schema. Text from the document is set
 * with textContent only.
 */

/** The page. */
export const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>flatgate API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{padding:16px 24px;background:#1e1e20;color:#fff}header p{margin:4px 0 0;color:#bbb}
main{max-width:980px;margin:0 auto;padding:16px 24px}
details{background:#fff;border:1px solid #ddd;border-radius:6px;margin:8px 0;padding:8px 12px}
summary{cursor:pointer}code,pre{font:12px ui-monospace,monospace}
pre{background:#f3f3f3;padding:8px;overflow:auto;max-height:420px}
.m{display:inline-block;min-width:56px;font-weight:600;text-transform:uppercase}
.get{color:#1a7f37}.post{color:#0550ae}.put{color:#9a6700}.delete{color:#cf222e}.d{color:#555;margin-left:8px}
</style></head>
<body><header><h1 style="margin:0;font-size:20px">flatgate API</h1><p id="info">loading /openapi.json…</p></header>
<main id="ops"></main>
<script>
(async () => {
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
  const info = document.getElementById('info');
  let doc;
  try { doc = await (await fetch('openapi.json')).json(); } catch (e) { info.textContent = 'cannot load openapi.json: ' + e; return; }
  info.textContent = (doc.info.description || '') + ' OpenAPI ' + doc.openapi + ', ' + Object.keys(doc.paths).length + ' paths. Raw document: /openapi.json';
  const ops = document.getElementById('ops');
  const resolve = (s) => s && s.$ref ? doc.components.schemas[s.$ref.split('/').pop()] : s;
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const d = el('details'); const s = el('summary');
      s.append(el('span', 'm ' + method, method), el('code', '', path), el('span', 'd', op.summary || ''));
      d.append(s, el('p', '', op.description || ''));
      if (op.parameters && op.parameters.length) d.append(el('p', '', 'Parameters: ' + op.parameters.map((p) => p.name + ' (' + p.in + ')').join(', ')));
      const body = op.requestBody && op.requestBody.content;
      if (body) for (const [type, media] of Object.entries(body)) { d.append(el('p', '', 'Request body, ' + type + ':'), el('pre', '', JSON.stringify(resolve(media.schema), null, 2))); }
      const ok = op.responses && op.responses['200'] && op.responses['200'].content;
      if (ok) for (const [type, media] of Object.entries(ok)) { d.append(el('p', '', 'Response 200, ' + type + ':'), el('pre', '', JSON.stringify(resolve(media.schema), null, 2))); }
      ops.append(d);
    }
  }
})();
</script></body></html>`;
