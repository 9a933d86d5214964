/**
 * @module What of the Prometheus text a key may see: the operator sees every series; an owner's admin key
 * sees series of the operator's models and its own, never another owner's. Filtered once, on the
 * rendered text, so every metric family (present and future) is covered by the same rule.
 */

/** Labels that name a served model or variant. */
const MODEL_LABEL = /\b(model|model_name|variant)="((?:[^"\\]|\\.)*)"/g;

const unescape = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));

/**
 * `text` without the samples that name a model `visible` refuses; comments and unlabelled samples stay.
 * @example c.text(visibleMetrics(metrics.prometheus(), (id) => canUse(principal, pool.get(id).info.owner)));
 */
export function visibleMetrics(text: string, visible: (id: string) => boolean): string {
  return text
    .split('\n')
    .filter((line) => {
      if (line.startsWith('#')) return true;
      const open = line.indexOf('{');
      if (open < 0) return true;
      for (const m of line.slice(open).matchAll(MODEL_LABEL)) if (!visible(unescape(m[2]))) return false;
      return true;
    })
    .join('\n');
}
