/**
 * @module HellaSwag in lm-evaluation-harness's form, from the 6-lines-per-item text file we ship
 * (`{activity_label}: {ctx}`, gold label, 4 endings). The harness builds its query from the dataset's
 * separate `ctx_a` and `ctx_b` fields; the text file joins them, so `ctx_b` is recovered as the trailing
 * unfinished fragment that starts in lower case after the last sentence end (how ActivityNet items
 * are written; WikiHow items, which end in a full sentence, have an empty `ctx_b`).
 */
import { InvalidRequest } from '../../errors.ts';
import type { MultipleChoiceExample } from './task-types.ts';

/**
 * The harness's `preprocess`: strip, " [title]" -> ". ", drop every "[...]", collapse double spaces
 * (one pass, as Python's `str.replace` does).
 * @example preprocessHellaswag(' How to x [title] Do y [step] z ') // 'How to x. Do y z'
 */
export function preprocessHellaswag(text: string): string {
  return text.trim().replaceAll(' [title]', '. ').replace(/\[.*?\]/g, '').replaceAll('  ', ' ');
}

/** Python's `str.capitalize`: first character upper case, the rest lower case. */
export function capitalize(s: string): string {
  if (s.length === 0) return s;
  const first = String.fromCodePoint(s.codePointAt(0)!);
  return first.toUpperCase() + s.slice(first.length).toLowerCase();
}

/**
 * Splits a joined `{label}: {ctx_a} {ctx_b}` line and rebuilds the harness query
 * `preprocess("{label}: {ctx_a} {ctx_b.capitalize()}")`.
 * @example hellaswagQuery('Roof shingle removal: A man is sitting on a roof. he') // '... roof. He'
 */
export function hellaswagQuery(line: string): string {
  const colon = line.indexOf(': ');
  const label = colon >= 0 ? line.slice(0, colon) : '';
  const ctx = colon >= 0 ? line.slice(colon + 2) : line;
  let cut = -1;
  for (const m of ctx.matchAll(/[.!?]["')]*\s+/g)) cut = m.index + m[0].length;
  const tail = cut >= 0 ? ctx.slice(cut) : ctx;
  const isCtxB = /^\p{Ll}/u.test(tail) && !/[.!?]["')]*$/.test(tail) && (cut >= 0 || colon >= 0);
  const ctxA = isCtxB ? ctx.slice(0, cut >= 0 ? cut : 0).trimEnd() : ctx;
  const ctxB = isCtxB ? tail : '';
  const joined = ctxA.length ? `${ctxA} ${capitalize(ctxB)}` : capitalize(ctxB);
  return preprocessHellaswag(colon >= 0 ? `${label}: ${joined}` : joined);
}

/** Parses the text file: blocks of ctx line, gold index (0-3), 4 endings. */
export function parseHellaswag(text: string, file: string): MultipleChoiceExample[] {
  const lines = text.split(/\r?\n/);
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  if (lines.length % 6 !== 0) throw new InvalidRequest(`${file}: ${lines.length} lines is not a multiple of 6 (ctx, gold, 4 endings)`);
  const out: MultipleChoiceExample[] = [];
  for (let i = 0; i < lines.length; i += 6) {
    const gold = Number(lines[i + 1]);
    if (!Number.isInteger(gold) || gold < 0 || gold > 3) throw new InvalidRequest(`${file}:${i + 2}: gold label must be 0-3, got ${JSON.stringify(lines[i + 1])}`);
    out.push({ context: hellaswagQuery(lines[i]), choices: lines.slice(i + 2, i + 6).map(preprocessHellaswag), gold });
  }
  return out;
}
