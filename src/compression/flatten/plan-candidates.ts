/**
 * @module Candidate plans for the plan search (issue 12): the greedy plan of {@link planFlatten} and the
 * alternatives that take a near-tie choice instead of the best one at some round, then continue
 * greedily. Similarity ranks plans poorly near ties (0.9613 vs 0.9608 on stories12L chose the worse
 * plan), so the candidates are compressed and scored by measured loss elsewhere; this file only
 * enumerates them, best first by regret (the summed similarity given up against each round's best).
 */
import { InvalidRequest } from '../../errors.ts';
import { planFlatten, type FlattenPlan, type LayerGroup, type MergeStep, type PlanOptions } from './plan.ts';

/** Options of {@link candidatePlans}. */
export interface CandidateOptions extends PlanOptions {
  /** Most plans returned, the greedy one included (default 6). */
  budget?: number;
  /** A choice within this much similarity of a round's best is a near tie (default 0.005). */
  margin?: number;
}

/** A candidate plan, and how much similarity it gave up against the greedy choices. */
export interface CandidatePlan extends FlattenPlan {
  /** Sum over rounds of (best score of the round - score of the merge taken); 0 for the greedy plan. */
  regret: number;
}

interface Partial {
  groups: LayerGroup[];
  merges: MergeStep[];
  regret: number;
}

/** Mergeable adjacent pairs of `groups` under the guards, best score first (ties: lowest index). */
function options(S: readonly (readonly number[])[], groups: LayerGroup[], excludeEnds: boolean, maxGroupSize: number): { g: number; score: number }[] {
  const L = S.length;
  const out: { g: number; score: number }[] = [];
  for (let g = 0; g + 1 < groups.length; g++) {
    const a = groups[g][0];
    const d = groups[g + 1][1];
    if (excludeEnds && (a === 0 || d === L - 1)) continue;
    if (d - a + 1 > maxGroupSize) continue;
    out.push({ g, score: S[a][d] });
  }
  return out.sort((x, y) => y.score - x.score || x.g - y.g);
}

/**
 * Up to `budget` distinct plans of `nMerges` merges: first the greedy plan (exactly {@link planFlatten}'s),
 * then plans that deviate at near-tie rounds, in order of increasing regret. Bounded: at most
 * budget * (nMerges + 1) * 8 partial plans are expanded.
 * @throws InvalidRequest as {@link planFlatten} does, or for a budget < 1 or a negative margin.
 * @example candidatePlans(S, 3, { budget: 4 }).map((p) => p.groups)
 */
export function candidatePlans(S: readonly (readonly number[])[], nMerges: number, opts: CandidateOptions = {}): CandidatePlan[] {
  const budget = opts.budget ?? 6;
  const margin = opts.margin ?? 0.005;
  if (!Number.isInteger(budget) || budget < 1) throw new InvalidRequest(`plan search budget must be a positive integer, got ${budget}`, 'budget');
  if (!(margin >= 0)) throw new InvalidRequest(`plan search margin must be >= 0, got ${margin}`, 'margin');
  const greedy = planFlatten(S, nMerges, opts);
  const out: CandidatePlan[] = [{ ...greedy, regret: 0 }];
  const seen = new Set([key(greedy.groups)]);
  const excludeEnds = opts.excludeEnds ?? true;
  const maxGroupSize = opts.maxGroupSize ?? Infinity;
  const L = S.length;
  const queue: Partial[] = [{ groups: Array.from({ length: L }, (_, l): LayerGroup => [l, l]), merges: [], regret: 0 }];
  let expansions = budget * (nMerges + 1) * 8;
  while (queue.length > 0 && out.length < budget && expansions-- > 0) {
    queue.sort((x, y) => x.regret - y.regret);
    const p = queue.shift()!;
    if (p.merges.length === nMerges) {
      const k = key(p.groups);
      if (!seen.has(k)) {
        seen.add(k);
        out.push({ groups: p.groups, merges: p.merges, regret: p.regret });
      }
      continue;
    }
    const opt = options(S, p.groups, excludeEnds, maxGroupSize);
    if (opt.length === 0) continue;
    const best = opt[0].score;
    if (opts.minSimilarity !== undefined && best < opts.minSimilarity) continue;
    for (const { g, score } of opt) {
      if (best - score > margin) break;
      const left = p.groups[g];
      const right = p.groups[g + 1];
      const groups = [...p.groups];
      groups.splice(g, 2, [left[0], right[1]]);
      queue.push({ groups, merges: [...p.merges, { left: [...left], right: [...right], similarity: score }], regret: p.regret + (best - score) });
    }
  }
  return out;
}

/** The merged spans of a plan as text, e.g. "3-4,5-6,7-8". */
export function planLabel(groups: readonly LayerGroup[]): string {
  return groups.filter(([a, b]) => b > a).map(([a, b]) => `${a}-${b}`).join(',') || 'none';
}

function key(groups: readonly LayerGroup[]): string {
  return planLabel(groups);
}
