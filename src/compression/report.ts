/**
 * @module report.json of a compression job: what was removed or merged, the statistics behind each
 * choice, the calibration set, the parameter counts, the timings and (when asked) the evaluation.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CalibrationSet } from './calibration.ts';
import type { GroupDetail } from './flattengpt.ts';
import type { PlanSearchResult } from './plan-search.ts';
import type { SlebRound } from './sleb.ts';

/** Compression methods. */
export const METHODS = ['flattengpt', 'shortgpt', 'sleb'] as const;
export type Method = (typeof METHODS)[number];

/** Perplexity of the result (and of the dense model) on a held-out text. */
export interface EvaluationReport {
  file: string;
  seq: number;
  tokens: number;
  ppl: number;
  nll: number;
  dense_ppl: number | null;
  /** True when the result's perplexity is more than twice the dense one. */
  cliff: boolean;
}

/** The report.json object (snake_case, as written). */
export interface CompressionReport {
  method: Method;
  variant: { prune: boolean; compensate: boolean; refit_o: boolean; scoring: string } | null;
  model: string;
  layers_before: number;
  layers_after: number;
  params_before: number;
  params_after: number;
  /** Fraction of parameters removed. */
  param_ratio_removed: number;
  /** FlattenGPT: every span of the plan, [first, last]. */
  groups: [number, number][] | null;
  /** Baselines: removed original block indices (SLEB: in removal order). */
  removed: number[] | null;
  /** L x L mean cosine of block inputs of the original model. */
  similarity: number[][];
  /** BI_l = 1 - cos(input of l, input of l+1), l = 0..L-1. */
  block_influence: number[];
  rho: number | null;
  /** lambda of each flattened group, in group order. */
  lambda: number[];
  group_details: {
    first: number;
    last: number;
    similarity: number;
    head_scores: number[] | null;
    kv_group_scores: number[] | null;
    kept_kv_groups: number[] | null;
    channel_scoring: string | null;
    channel_scores: number[] | null;
    kept_channels: number[] | null;
    lambda: number | null;
    compensated: boolean | null;
    seconds: number;
  }[];
  sleb_rounds: SlebRound[] | null;
  calibration: { file: string; samples: number; seq: number; seed: number; tokens: number };
  seconds: number;
  timings: Record<string, number>;
  provider: 'cuda' | 'cpu';
  /** How FlattenGPT propagated activations: kept in memory or recomputed per batch. */
  frontier: 'memory' | 'recompute' | null;
  /** Every layer has the original shape, so the result is a standard checkpoint. */
  standard: boolean;
  /** Whether the model was written beside this report. */
  exported: boolean;
  notes: string[];
  evaluation: EvaluationReport | null;
  /** FlattenGPT's plan search: every candidate compressed, its held-out calibration score and time. */
  candidates?: { groups: [number, number][]; label: string; regret: number; refit_o: boolean; score_nll: number; score_ppl: number; seconds: number; chosen: boolean }[] | null;
  /** Which candidate was kept and why, and what the search cost. */
  search?: {
    chosen: number;
    greedy: number;
    reason: string;
    refit_o: boolean;
    holdout: { windows: number; tokens: number; disjoint: boolean };
    dense_score_ppl: number;
    seconds: number;
  } | null;
}

/** The report's candidates and search blocks from a plan search. */
export function searchJson(s: PlanSearchResult, holdout: { windows: number; tokens: number; disjoint: boolean }): Pick<CompressionReport, 'candidates' | 'search'> {
  return {
    candidates: s.candidates.map((c, i) => ({
      groups: c.groups, label: c.label, regret: c.regret, refit_o: c.refitO, score_nll: c.nll, score_ppl: c.ppl, seconds: c.seconds, chosen: i === s.chosen,
    })),
    search: { chosen: s.chosen, greedy: s.greedy, reason: s.reason, refit_o: s.refitO, holdout, dense_score_ppl: s.dense.ppl, seconds: s.seconds },
  };
}

/** The report's group_details from FlattenGPT's groups. */
export function groupDetailsJson(groups: readonly GroupDetail[]): CompressionReport['group_details'] {
  return groups.map((g) => ({
    first: g.first,
    last: g.last,
    similarity: g.similarity,
    head_scores: g.heads?.scores ?? null,
    kv_group_scores: g.heads?.groupScores ?? null,
    kept_kv_groups: g.heads?.keptKvGroups ?? null,
    channel_scoring: g.channels?.scoring ?? null,
    channel_scores: g.channels?.scores ?? null,
    kept_channels: g.channels?.kept ?? null,
    lambda: g.channels?.lambda ?? null,
    compensated: g.channels?.compensated ?? null,
    seconds: g.seconds,
  }));
}

/** The report's calibration block. */
export function calibrationJson(set: CalibrationSet): CompressionReport['calibration'] {
  return { file: set.file, samples: set.samples.length, seq: set.seq, seed: set.seed, tokens: set.samples.length * set.seq };
}

/**
 * The report as the database keeps it (the worker's completion, a variants row): every field but the
 * per-channel arrays of group_details (`channel_scores`, `kept_channels`: 2 x the MLP width numbers a
 * group, over a megabyte of JSON for a 1B-class model), which stay in the published report.json;
 * `kept_channel_count` says how many were kept.
 */
export function reportForDatabase(report: CompressionReport): Omit<CompressionReport, 'group_details'> & { group_details: Record<string, unknown>[] } {
  return {
    ...report,
    group_details: report.group_details.map(({ channel_scores: _scores, kept_channels, ...rest }) => ({ ...rest, kept_channel_count: kept_channels?.length ?? null })),
  };
}

/** Writes `report` as DIR/report.json. */
export async function writeReport(dir: string, report: CompressionReport): Promise<void> {
  await writeFile(join(dir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
}
