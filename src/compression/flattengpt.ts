/**
 * @module FlattenGPT (flattengpt.md): plan groups from the similarity of the original model's block
 * inputs, then bottom-up flatten each group, prune its heads (whole KV groups) on the compressed
 * prefix's activations, and prune its MLP channels by ridge leverage with a compensated down_proj,
 * using statistics taken after the head pruning. Result: the same architecture with fewer layers.
 */
import type { LayerWeights, LlamaModel } from '../model/types.ts';
import { ActivationFrontier } from './activation-frontier.ts';
import type { CalibrationSet } from './calibration.ts';
import { flattenGroup } from './flatten/flatten-group.ts';
import { groupScores } from './flatten/head-scores.ts';
import { planFlatten, type FlattenPlan, type PlanOptions } from './flatten/plan.ts';
import { pruneHeads } from './flatten/prune.ts';
import { DenseLinearAlgebra } from './math/dense.ts';
import { topK } from './math/topk.ts';
import { selectChannels, type ChannelScoring } from './mlp-selection.ts';
import type { ProgressListener } from './progress.ts';
import { keptHeadDims, refitO } from './o-refit.ts';
import { collectHeadStats, collectMlpGram, collectSimilarity, type StatisticsOptions } from './statistics.ts';
import { layerShape } from './tensor-ops.ts';

/** Default relative ridge rho. */
export const DEFAULT_RHO = 1e-2;

/** Options of {@link flattenGpt}. */
export interface FlattenGptOptions extends Omit<StatisticsOptions, 'onBatch'> {
  /** Number of merges (layers removed). */
  merges: number;
  /** Relative ridge of the leverage scores and the compensation (default {@link DEFAULT_RHO}). */
  rho?: number;
  /** Prune flattened blocks back to the original width (default true; false: the 2x-wide ablation). */
  prune?: boolean;
  /** Refit down_proj on the kept channels (default true). */
  compensate?: boolean;
  /** Refit o_proj on the kept heads by the same ridge closed form on the head outputs (default false). */
  refitO?: boolean;
  /** MLP channel scores (default leverage). */
  scoring?: ChannelScoring;
  /** KV groups kept per flattened block (default the model's numKvHeads). */
  keepKvGroups?: number;
  /** MLP channels kept per flattened block (default the model's intermediateSize). */
  keepChannels?: number;
  /** Guards of the greedy grouping. */
  plan?: PlanOptions;
  /** Keep calibration activations in memory (default: when small enough). */
  cacheActivations?: boolean;
  /** A precomputed (L+1) x (L+1) similarity of the original model on the same calibration set. */
  similarity?: number[][];
  /** Compress this plan instead of the greedy one (the plan search's candidates). */
  planOverride?: FlattenPlan;
  /**
   * Pruned groups shared between runs on the same model, calibration set and options: a group's result
   * depends only on the plan up to and including it, so candidates that share a prefix reuse its work.
   */
  groupCache?: Map<string, { layer: LayerWeights; detail: GroupDetail }>;
  onProgress?: ProgressListener;
}

/** What was done to one flattened group. */
export interface GroupDetail {
  first: number;
  last: number;
  /** S[first][last], the score the plan merged on. */
  similarity: number;
  /** Per query head f_i, the KV-group sums, and the kept KV groups (absent with prune off). */
  heads?: { scores: number[]; groupScores: number[]; keptKvGroups: number[]; oLambda?: number };
  /** Per channel scores, kept channels and lambda (absent with prune off). */
  channels?: { scoring: ChannelScoring; scores: number[]; kept: number[]; lambda: number; compensated: boolean };
  seconds: number;
}

/** Result of {@link flattenGpt}. */
export interface FlattenGptResult {
  model: LlamaModel;
  /** Every layer has the original shape (false for the unpruned or custom-width ablations). */
  standard: boolean;
  /** (L+1) x (L+1) similarity of the original model (last index: final residual). */
  similarity: number[][];
  plan: FlattenPlan;
  groups: GroupDetail[];
  provider: 'cuda' | 'cpu';
  frontier: 'memory' | 'recompute';
}

/**
 * Compresses `model` by `merges` flattenings.
 * @example const r = await flattenGpt(model, calib, { merges: 2, rho: 1e-2 }); r.model.layers.length // L - 2
 */
export async function flattenGpt(model: LlamaModel, calib: CalibrationSet, opts: FlattenGptOptions): Promise<FlattenGptResult> {
  const cfg = model.config;
  const L = model.layers.length;
  const progress = opts.onProgress ?? (() => {});
  let provider: 'cuda' | 'cpu' = 'cpu';
  let similarity = opts.similarity;
  if (!similarity) {
    const sim = await collectSimilarity(model, calib, { ...opts, onBatch: (done, total) => progress({ stage: 'similarity', done, total }) });
    similarity = sim.S;
    provider = sim.provider;
  }
  const S = similarity.slice(0, L).map((row) => row.slice(0, L));
  const plan = opts.planOverride ?? planFlatten(S, opts.merges, opts.plan);
  const prune = opts.prune ?? true;
  const kvKeep = opts.keepKvGroups ?? cfg.numKvHeads;
  const chKeep = opts.keepChannels ?? cfg.intermediateSize;
  const groupSize = cfg.numHeads / cfg.numKvHeads;
  const frontier = new ActivationFrontier(model, calib, { ...opts, cache: opts.cacheActivations });
  const la = await DenseLinearAlgebra.open({ threads: opts.threads, provider: opts.provider });
  const layers: LayerWeights[] = [];
  const groups: GroupDetail[] = [];
  let lastMerged = -1;
  plan.groups.forEach(([a, b], i) => b > a && (lastMerged = i));
  try {
    for (const [gi, [first, last]] of plan.groups.entries()) {
      const members = model.layers.slice(first, last + 1);
      if (first === last || gi > lastMerged) {
        layers.push(...members);
        frontier.push(members);
        continue;
      }
      const cacheKey = `${JSON.stringify(plan.groups.slice(0, gi + 1))} refit_o=${Boolean(opts.refitO)}`;
      const hit = opts.groupCache?.get(cacheKey);
      if (hit) {
        groups.push(hit.detail);
        layers.push(hit.layer);
        frontier.push([hit.layer]);
        continue;
      }
      const t0 = performance.now();
      const wide = flattenGroup(members, cfg).layer;
      const detail: GroupDetail = { first, last, similarity: S[first][last], seconds: 0 };
      let layer = wide;
      if (prune) {
        const onBatch = (stage: string) => (done: number, total: number) => progress({ stage, layer: first, done, total });
        const stats = await collectHeadStats(frontier, model, wide, { ...opts, gram: opts.refitO, onBatch: onBatch('head scores') });
        const gScores = groupScores(stats.scores, groupSize);
        const keptKvGroups = topK(gScores, kvKeep);
        layer = pruneHeads(wide, cfg.headDim, gScores.length, groupSize, keptKvGroups);
        detail.heads = { scores: [...stats.scores], groupScores: [...gScores], keptKvGroups };
        if (stats.C) {
          const refit = await refitO(wide, layer, stats.C, keptHeadDims(keptKvGroups, groupSize, cfg.headDim), opts.rho ?? DEFAULT_RHO, la);
          layer = refit.layer;
          detail.heads.oLambda = refit.lambda;
        }
        const { C } = await collectMlpGram(frontier, model, layer, { ...opts, onBatch: onBatch('mlp statistics') });
        const sel = await selectChannels(C, layer, chKeep, {
          la,
          rho: opts.rho ?? DEFAULT_RHO,
          scoring: opts.scoring ?? 'leverage',
          compensate: opts.compensate ?? true,
        });
        layer = sel.layer;
        detail.channels = { scoring: opts.scoring ?? 'leverage', scores: [...sel.scores], kept: sel.keep, lambda: sel.lambda, compensated: opts.compensate ?? true };
      }
      detail.seconds = (performance.now() - t0) / 1000;
      opts.groupCache?.set(cacheKey, { layer, detail });
      groups.push(detail);
      layers.push(layer);
      frontier.push([layer]);
    }
  } finally {
    await frontier.release();
    await la.release();
  }
  const out: LlamaModel = { ...model, layers, config: { ...cfg, numLayers: layers.length } };
  const ref = layerShape(model.layers[0]).join();
  const standard = layers.every((l) => layerShape(l).join() === ref);
  if (prune && kvKeep === cfg.numKvHeads && chKeep === cfg.intermediateSize && !standard) {
    throw new Error('flattenGpt: a pruned layer does not have the original shape (internal error)');
  }
  return { model: out, standard, similarity, plan, groups, provider, frontier: frontier.mode };
}
