/**
 * @module Auto-promotion (issue 12): the route a model name gets from its variants' verdicts. Traffic
 * goes to the best acceptable variant (recommended before acceptable, then the fewest parameters, then
 * the lowest perplexity), with a small shadow share on the original so that agreement keeps being
 * measured; when no variant is acceptable, to the original. Pure: the caller stores the route.
 */
import type { RouteArm } from './ab-router.ts';
import { InvalidRequest } from '../errors.ts';
import { familyVerdicts, type Verdict, type VerdictCriteria, type VerdictStatus } from './verdict.ts';

/** Shadow share kept on the original when a variant is promoted. */
export const DEFAULT_PROMOTION_SHADOW = 0.05;

/** A variant as promotion sees it. */
export interface PromotionCandidate {
  id: string;
  method: string;
  params: number;
  ppl: number | null;
  /** null for the original. */
  verdict: Verdict | null;
}

/** The route promotion chose, and why (sentences, first the decision). */
export interface Promotion {
  arms: RouteArm[];
  shadowRate: number;
  chosen: string;
  reasons: string[];
}

const RANK: Record<VerdictStatus, number> = { recommended: 0, acceptable: 1, degraded: 2, collapsed: 3 };

/**
 * The route for a family (`family` holds the original, method 'original', and its variants).
 * The original is a zero-weight arm beside a promoted variant, so the shadow runs on it.
 * @example promote(family).arms // [{ variant: 'm:flattengpt-25', weight: 1 }, { variant: 'm', weight: 0 }]
 */
export function promote(family: readonly PromotionCandidate[], shadowRate = DEFAULT_PROMOTION_SHADOW): Promotion {
  const original = family.find((v) => v.method === 'original');
  if (!original) throw new Error('promote: the family has no original (internal error)');
  const judged = family.filter((v) => v.verdict !== null);
  const ok = judged
    .filter((v) => v.verdict!.status === 'recommended' || v.verdict!.status === 'acceptable')
    .sort((a, b) => RANK[a.verdict!.status] - RANK[b.verdict!.status] || a.params - b.params || (a.ppl ?? Infinity) - (b.ppl ?? Infinity) || a.id.localeCompare(b.id));
  const others = judged.filter((v) => !ok.includes(v)).map((v) => `${v.id} is ${v.verdict!.status}: ${v.verdict!.reasons[0] ?? 'no reason given'}`);
  if (ok.length === 0) {
    return {
      arms: [{ variant: original.id, weight: 1 }],
      shadowRate: 0,
      chosen: original.id,
      reasons: [judged.length === 0 ? `${original.id} has no compressed variant: all traffic stays on the original` : 'no variant is acceptable: all traffic stays on the original', ...others],
    };
  }
  const best = ok[0];
  return {
    arms: [{ variant: best.id, weight: 1 }, { variant: original.id, weight: 0 }],
    shadowRate,
    chosen: best.id,
    reasons: [
      `${best.id} is ${best.verdict!.status} and the best of ${ok.length} acceptable variant(s): ${best.verdict!.reasons[0]}`,
      `a ${(100 * shadowRate).toFixed(1)}% shadow share runs on ${original.id} to keep measuring agreement`,
      ...ok.slice(1).map((v) => `${v.id} is also ${v.verdict!.status} but ranks lower (status, then fewer parameters, then perplexity)`),
      ...others,
    ],
  };
}

/**
 * A family as promotion sees it: each member with its verdict under `criteria` (null for the original).
 * @example promote(judge(readyVariants, criteria))
 */
export function judge(
  family: readonly { id: string; method: string; params?: number | null; evaluation?: object | null }[],
  criteria?: VerdictCriteria,
): PromotionCandidate[] {
  const evaluations = family.map((m) => (m.evaluation ?? null) as Record<string, unknown> | null);
  const verdicts = familyVerdicts(family.map((m, i) => ({ method: m.method, evaluation: evaluations[i] })), criteria);
  return family.map((m, i) => {
    const ppl = evaluations[i]?.ppl;
    return { id: m.id, method: m.method, params: m.params ?? Infinity, ppl: typeof ppl === 'number' ? ppl : null, verdict: verdicts[i] };
  });
}

/**
 * Refuses a route that would serve a collapsed variant, unless its arm says `force: true`.
 * @throws InvalidRequest naming the collapsed variant and its verdict's first reason.
 */
export function refuseCollapsedArms(judged: readonly PromotionCandidate[], arms: readonly (RouteArm & { force?: boolean })[]): void {
  for (const arm of arms) {
    const v = judged.find((j) => j.id === arm.variant);
    if (v?.verdict?.status === 'collapsed' && arm.weight > 0 && !arm.force) {
      throw new InvalidRequest(`${arm.variant} is collapsed (${v.verdict.reasons[0]}); name it with "force": true to serve it anyway`, 'arms');
    }
  }
}
