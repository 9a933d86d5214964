/**
 * @module The request mix of each variant (scoring calls vs generations, prompt and output lengths) and
 * whether it differs between variants: organic traffic that sends one variant 1-token scoring calls and
 * another long generations makes whole-request latency incomparable, so the comparison says so.
 */
import type { MergedMeasures } from './summary-read.ts';
import { LENGTH_BUCKETS } from './summaries.ts';

/** A variant's request mix over the window (shares sum to 1 when there were requests). */
export interface Mix {
  requests: number;
  /** Share of calls that only score a prompt (max_tokens 0), the rest generate. */
  scoring_share: number | null;
  /** Share of requests per prompt-length and output-length bucket (tokens). */
  prompt: Record<string, number>;
  output: Record<string, number>;
  mean_prompt_tokens: number | null;
  mean_completion_tokens: number | null;
}

/** Requests each variant needs before mixes are compared. */
export const MIN_REQUESTS_TO_JUDGE = 20;
/** Total-variation distance between two mixes above which they are called different. */
export const MIX_TOLERANCE = 0.1;

/** The mix of one variant from its merged measures. */
export function mixOf(ms: MergedMeasures | undefined): Mix {
  const requests = ms?.get('requests')?.count ?? 0;
  const share = (k: string) => (requests > 0 ? (ms?.get(k)?.count ?? 0) / requests : 0);
  const shares = (prefix: string) => Object.fromEntries(LENGTH_BUCKETS.map((b) => [b, share(`${prefix}:${b}`)]).filter(([, v]) => (v as number) > 0));
  return {
    requests,
    scoring_share: requests > 0 ? share('kind:scoring') : null,
    prompt: shares('prompt'),
    output: shares('output'),
    mean_prompt_tokens: requests > 0 ? (ms?.get('prompt_tokens')?.sum ?? 0) / requests : null,
    mean_completion_tokens: requests > 0 ? (ms?.get('completion_tokens')?.sum ?? 0) / requests : null,
  };
}

/** Total-variation distance between two share tables: half the sum of absolute differences. */
export function totalVariation(a: Record<string, number>, b: Record<string, number>): number {
  let d = 0;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) d += Math.abs((a[k] ?? 0) - (b[k] ?? 0));
  return d / 2;
}

/** The verdict on the mix: whether whole-request numbers compare like with like. */
export interface Fairness {
  status: 'comparable' | 'mix_differs' | 'too_little_traffic';
  mix_differs: boolean;
  reasons: string[];
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

/**
 * Compares every variant's mix with the original's.
 * @example judgeMix(columns, 'stories260K').mix_differs
 */
export function judgeMix(columns: { id: string; mix: Mix }[], originalId: string): Fairness {
  const base = columns.find((c) => c.id === originalId);
  const reasons: string[] = [];
  let differs = false;
  let small = false;
  for (const c of columns) {
    if (!base || c === base) continue;
    if (c.mix.requests < MIN_REQUESTS_TO_JUDGE || base.mix.requests < MIN_REQUESTS_TO_JUDGE) {
      if (c.mix.requests > 0 || base.mix.requests > 0) small = true;
      continue;
    }
    const kind = Math.abs((c.mix.scoring_share ?? 0) - (base.mix.scoring_share ?? 0));
    if (kind > MIX_TOLERANCE) reasons.push(`${c.id}: ${pct(c.mix.scoring_share ?? 0)} scoring calls, ${base.id}: ${pct(base.mix.scoring_share ?? 0)}`);
    const prompt = totalVariation(c.mix.prompt, base.mix.prompt);
    if (prompt > MIX_TOLERANCE) reasons.push(`${c.id}: prompt lengths differ from ${base.id}'s (distance ${prompt.toFixed(2)}; mean ${c.mix.mean_prompt_tokens?.toFixed(1)} vs ${base.mix.mean_prompt_tokens?.toFixed(1)} tokens)`);
    const output = totalVariation(c.mix.output, base.mix.output);
    if (output > MIX_TOLERANCE) reasons.push(`${c.id}: output lengths differ from ${base.id}'s (distance ${output.toFixed(2)}; mean ${c.mix.mean_completion_tokens?.toFixed(1)} vs ${base.mix.mean_completion_tokens?.toFixed(1)} tokens)`);
    if (kind > MIX_TOLERANCE || prompt > MIX_TOLERANCE || output > MIX_TOLERANCE) differs = true;
  }
  if (differs) {
    reasons.push('whole-request latency is not comparable: compare the per-token measures (inter-token latency, TTFT per prompt length, tokens/s) or the matched workload');
    return { status: 'mix_differs', mix_differs: true, reasons };
  }
  if (small) return { status: 'too_little_traffic', mix_differs: false, reasons: [`fewer than ${MIN_REQUESTS_TO_JUDGE} requests on a variant: the mixes cannot be compared yet`] };
  return { status: 'comparable', mix_differs: false, reasons };
}
