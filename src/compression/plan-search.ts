/**
 * @module Plan search (issue 12): compress every candidate plan of {@link candidatePlans} and keep the
 * one with the lowest next-token loss on held-out calibration windows (windows the statistics never
 * used), instead of trusting the similarity ranking near ties. The similarity is computed once; pruned
 * groups are shared between candidates with a common prefix (a group depends only on the plan up to
 * it). Then the optional o_proj refit is tried on the chosen plan and kept when it lowers the score.
 */
import type { LlamaModel } from '../model/types.ts';
import type { CalibrationSet } from './calibration.ts';
import { candidatePlans, planLabel, type CandidateOptions } from './flatten/plan-candidates.ts';
import type { LayerGroup } from './flatten/plan.ts';
import { flattenGpt, type FlattenGptOptions, type FlattenGptResult } from './flattengpt.ts';
import { calibrationNll } from './statistics.ts';

/** Options of the plan search. */
export interface PlanSearchOptions {
  /** Most candidate plans compressed, the greedy one included (default 6; 1: greedy only). */
  budget?: number;
  /** Near-tie margin in similarity (default 0.005). */
  margin?: number;
}

/** One compressed candidate and its held-out score. */
export interface CandidateScore {
  groups: LayerGroup[];
  /** Merged spans, e.g. "3-4,5-6,7-8". */
  label: string;
  /** Similarity given up against the greedy choices (0: the greedy plan). */
  regret: number;
  refitO: boolean;
  /** Mean next-token NLL on the held-out calibration windows, and its exp. */
  nll: number;
  ppl: number;
  /** Seconds to compress and score this candidate (less when it reused groups of an earlier one). */
  seconds: number;
}

/** Result of {@link searchPlan}. */
export interface PlanSearchResult {
  result: FlattenGptResult;
  candidates: CandidateScore[];
  /** Index into `candidates` of the kept one. */
  chosen: number;
  /** Index into `candidates` of the greedy plan (without refit). */
  greedy: number;
  refitO: boolean;
  /** Why the kept candidate was chosen, and why the refit is on or off, in words. */
  reason: string;
  /** The dense model's held-out score, for scale. */
  dense: { nll: number; ppl: number };
  seconds: number;
}

type FlattenOpts = Omit<FlattenGptOptions, 'refitO' | 'planOverride' | 'groupCache'>;

/**
 * Compresses each candidate plan of `model`, scores it on `heldOut`, keeps the best.
 * `refitO`: 'auto' tries the refit on the chosen plan and keeps it when it lowers the score.
 * @example const s = await searchPlan(model, calib, heldOut, { merges: 3, similarity: S }, { budget: 6 }, 'auto'); s.result.model
 */
export async function searchPlan(
  model: LlamaModel,
  calib: CalibrationSet,
  heldOut: CalibrationSet,
  opts: FlattenOpts & { similarity: number[][] },
  search: PlanSearchOptions = {},
  refitO: boolean | 'auto' = 'auto',
): Promise<PlanSearchResult> {
  const t0 = performance.now();
  const L = model.layers.length;
  const S = opts.similarity.slice(0, L).map((r) => r.slice(0, L));
  const plans = candidatePlans(S, opts.merges, { ...opts.plan, budget: search.budget, margin: search.margin } satisfies CandidateOptions);
  const session = { threads: opts.threads, provider: opts.provider, batchSize: opts.batchSize };
  const cache: FlattenGptOptions['groupCache'] = new Map();
  const candidates: CandidateScore[] = [];
  type Kept = { score: number; result: FlattenGptResult; index: number };
  const kept: { best: Kept | null } = { best: null };
  const run = async (groups: LayerGroup[], regret: number, refit: boolean) => {
    const t = performance.now();
    const plan = plans.find((p) => p.groups === groups)!;
    const result = await flattenGpt(model, calib, { ...opts, planOverride: plan, groupCache: cache, refitO: refit });
    const { nll } = await calibrationNll(result.model, heldOut, session);
    candidates.push({ groups, label: planLabel(groups), regret, refitO: refit, nll, ppl: Math.exp(nll), seconds: (performance.now() - t) / 1000 });
    if (!kept.best || nll < kept.best.score) kept.best = { score: nll, result, index: candidates.length - 1 };
  };
  for (const p of plans) await run(p.groups, p.regret, refitO === true);
  const planPick = kept.best!;
  const dense = (await calibrationNll(model, heldOut, session)).nll;
  const pick = candidates[planPick.index];
  const greedy = 0;
  const n = heldOut.samples.length;
  const words = [
    plans.length === 1
      ? `one candidate (the greedy plan ${pick.label}): no near ties within the margin, or a budget of 1`
      : `plan ${pick.label} has the lowest next-token loss on ${n} held-out calibration windows of ${plans.length} candidates ` +
        `(perplexity ${pick.ppl.toFixed(3)}; greedy plan ${candidates[greedy].label}: ${candidates[greedy].ppl.toFixed(3)}; dense ${Math.exp(dense).toFixed(3)})`,
  ];
  let refitOn = refitO === true;
  if (refitO === 'auto') {
    await run(pick.groups, pick.regret, true);
    const withRefit = candidates[candidates.length - 1];
    refitOn = withRefit.nll < pick.nll;
    words.push(`o_proj refit ${refitOn ? 'on' : 'off'}: held-out perplexity ${withRefit.ppl.toFixed(3)} with it vs ${pick.ppl.toFixed(3)} without`);
  } else {
    words.push(`o_proj refit ${refitOn ? 'on' : 'off'} as asked`);
  }
  const final = kept.best!;
  return {
    result: final.result, candidates, chosen: final.index, greedy, refitO: refitOn,
    reason: words.join('; '), dense: { nll: dense, ppl: Math.exp(dense) }, seconds: (performance.now() - t0) / 1000,
  };
}
