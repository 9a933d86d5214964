/**
 * @module The verdict on a compressed variant (issue 12), a pure function of its job evaluation, the
 * original's, and the model's criteria: `collapsed` (perplexity more than doubled, top-1 agreement
 * under 0.5, or a zero-shot task at chance where the original is not), `acceptable` (within the
 * criteria), `recommended` (acceptable and measurably faster), else `degraded`. Reasons are sentences
 * a person can read, first the one that decided.
 */

/** What a model's variants are held to (per upload, or later by PUT /v1/models/:id/criteria). */
export interface VerdictCriteria {
  /** Highest perplexity ratio (variant / original) that is acceptable. */
  max_ppl_ratio: number;
  /** Lowest top-1 agreement with the original that is acceptable. */
  min_agreement: number;
  /** Largest accuracy drop (absolute, 0..1) on any zero-shot task; null: not checked. */
  max_task_drop: number | null;
}

/** The defaults of issue 12: perplexity ratio <= 1.10 and agreement >= 0.80; task drops not checked. */
export const DEFAULT_CRITERIA: VerdictCriteria = { max_ppl_ratio: 1.1, min_agreement: 0.8, max_task_drop: null };

/** Stored or sent criteria (any field may be absent) with the defaults filled in. */
export function resolveCriteria(partial: Partial<VerdictCriteria> | null | undefined): VerdictCriteria {
  return {
    max_ppl_ratio: partial?.max_ppl_ratio ?? DEFAULT_CRITERIA.max_ppl_ratio,
    min_agreement: partial?.min_agreement ?? DEFAULT_CRITERIA.min_agreement,
    max_task_drop: partial?.max_task_drop ?? DEFAULT_CRITERIA.max_task_drop,
  };
}

/** Statuses, best first. */
export const VERDICT_STATUSES = ['recommended', 'acceptable', 'degraded', 'collapsed'] as const;
export type VerdictStatus = (typeof VERDICT_STATUSES)[number];

/** A variant's verdict. */
export interface Verdict {
  status: VerdictStatus;
  reasons: string[];
}

/** The parts of a job evaluation the verdict reads (the `variants.evaluation` JSON). */
export interface EvaluationEvidence {
  ppl?: number | null;
  tasks?: Record<string, unknown>;
  agreement?: Record<string, unknown>;
  /** Prefill throughput measured by the job's perplexity pass. */
  speed?: { tokens_per_s?: number } | null;
}

/** A variant measured this much faster (job perplexity pass, tokens/s) than the original is "measurably faster". */
export const FASTER_RATIO = 1.05;

/** Chance accuracy of the bundled zero-shot tasks (1 / number of choices). */
const CHANCE: Record<string, number> = { piqa: 0.5, winogrande: 0.5, boolq: 0.5, hellaswag: 0.25, arc_easy: 0.25, arc_challenge: 0.25 };

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const accOf = (t: unknown): { acc: number; n: number } | null => {
  const o = t as { acc?: unknown; n?: unknown } | null;
  const acc = num(o?.acc);
  return acc === null ? null : { acc, n: num(o?.n) ?? 0 };
};
/** Within two standard errors of chance (or below it). */
const atChance = (acc: number, n: number, chance: number) => acc <= chance + 2 * Math.sqrt((chance * (1 - chance)) / Math.max(1, n));
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * Judges `variant` against `original` under `criteria`.
 * @example verdictOf({ ppl: 20 }, { ppl: 9 }) // { status: 'collapsed', reasons: ['perplexity 20.00 is 2.22x the original's 9.00 (more than 2x)', ...] }
 */
export function verdictOf(variant: EvaluationEvidence | null | undefined, original: EvaluationEvidence | null | undefined, criteria: VerdictCriteria = DEFAULT_CRITERIA): Verdict {
  const collapsed: string[] = [];
  const failed: string[] = [];
  const passed: string[] = [];
  const missing: string[] = [];
  const ppl = num(variant?.ppl);
  const base = num(original?.ppl);
  if (ppl !== null && base !== null && base > 0) {
    const ratio = ppl / base;
    const text = `perplexity ${ppl.toFixed(2)} is ${ratio.toFixed(2)}x the original's ${base.toFixed(2)}`;
    if (ratio > 2) collapsed.push(`${text} (more than 2x)`);
    else if (ratio > criteria.max_ppl_ratio) failed.push(`${text} (allowed: ${criteria.max_ppl_ratio.toFixed(2)}x)`);
    else passed.push(`${text} (allowed: ${criteria.max_ppl_ratio.toFixed(2)}x)`);
  } else {
    missing.push('no perplexity of both the variant and the original was measured');
  }
  const top1 = num(variant?.agreement?.top1);
  if (top1 !== null) {
    const text = `it picks the original's next token ${pct(top1)} of the time`;
    if (top1 < 0.5) collapsed.push(`${text} (under 50%)`);
    else if (top1 < criteria.min_agreement) failed.push(`${text} (required: ${pct(criteria.min_agreement)})`);
    else passed.push(`${text} (required: ${pct(criteria.min_agreement)})`);
  } else {
    missing.push('its agreement with the original was not measured');
  }
  for (const [task, raw] of Object.entries(variant?.tasks ?? {})) {
    const v = accOf(raw);
    const o = accOf(original?.tasks?.[task]);
    if (!v || !o) continue;
    const chance = CHANCE[task];
    if (chance !== undefined && atChance(v.acc, v.n, chance) && !atChance(o.acc, o.n, chance)) {
      collapsed.push(`${task} accuracy ${pct(v.acc)} is at chance (${pct(chance)}) where the original's is ${pct(o.acc)}`);
      continue;
    }
    if (criteria.max_task_drop === null) continue;
    const drop = o.acc - v.acc;
    const text = `${task} accuracy ${pct(v.acc)} vs the original's ${pct(o.acc)}`;
    if (drop > criteria.max_task_drop) failed.push(`${text} (a drop of ${pct(drop)}; allowed: ${pct(criteria.max_task_drop)})`);
    else passed.push(text);
  }
  if (collapsed.length > 0) return { status: 'collapsed', reasons: [...collapsed, ...failed] };
  if (failed.length > 0 || missing.length > 0) return { status: 'degraded', reasons: [...failed, ...missing, ...passed] };
  const fast = num(variant?.speed?.tokens_per_s);
  const fastBase = num(original?.speed?.tokens_per_s);
  if (fast !== null && fastBase !== null && fastBase > 0) {
    const r = fast / fastBase;
    const text = `the job measured ${fast.toFixed(0)} tokens/s against the original's ${fastBase.toFixed(0)} (${r.toFixed(2)}x)`;
    if (r >= FASTER_RATIO) return { status: 'recommended', reasons: [`within the criteria and faster: ${text}`, ...passed] };
    return { status: 'acceptable', reasons: [`within the criteria, but not measurably faster: ${text} (needs ${FASTER_RATIO.toFixed(2)}x)`, ...passed] };
  }
  return { status: 'acceptable', reasons: ['within the criteria; no measured speed of both, so not recommended', ...passed] };
}

/**
 * Verdicts of a model's variants: null for the original (method 'original'), else {@link verdictOf}
 * against the original's evaluation.
 */
export function familyVerdicts(
  variants: readonly { method: string; evaluation?: EvaluationEvidence | Record<string, unknown> | null }[],
  criteria: VerdictCriteria = DEFAULT_CRITERIA,
): (Verdict | null)[] {
  const original = variants.find((v) => v.method === 'original')?.evaluation as EvaluationEvidence | null | undefined;
  return variants.map((v) => (v.method === 'original' ? null : verdictOf(v.evaluation as EvaluationEvidence | null | undefined, original, criteria)));
}
