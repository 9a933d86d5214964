/**
 * @module Compression parameters of a job, with their defaults: FlattenGPT removing about a quarter of
 * the layers plus the ShortGPT baseline at the same depth, each variant evaluated by perplexity and
 * agreement on a small held-out text and by zero-shot accuracy on all six tasks (the first
 * `task_limit` items of each, from the worker's FLATGATE_TASK_DATA_DIR). Text files come from the bucket
 * (`*_key`) or the worker's disk (`*_file`).
 */
import { z } from 'zod';
import { TASK_NAMES } from '../compression/eval/task-types.ts';

/**
 * Items per task in the default evaluation: evaluating a variant of the 124.7M LLaMA shape (six tasks,
 * perplexity, agreement) then takes about 1.3 minutes on 2 quiet cores (bench/eval.ts, measured; see
 * bench/README.md). The binomial standard error
 * sqrt(p(1-p)/n) of each accuracy is at most 0.5/sqrt(50) = 7.1 points (6.1 at p = 0.25, chance on ARC):
 * enough to see a collapse, not a one-point difference; raise `task_limit` (up to the 500 bundled items,
 * or more from full datasets in FLATGATE_TASK_DATA_DIR) for that.
 */
export const DEFAULT_TASK_LIMIT = 50;

/** Methods a job can run. */
export const JOB_METHODS = ['flattengpt', 'shortgpt', 'sleb'] as const;

/** The parameters, as stored on the job (snake_case, as clients send them). */
export const compressionParamsSchema = z
  .object({
    methods: z.array(z.enum(JOB_METHODS)).min(1).max(3).default(['flattengpt', 'shortgpt']),
    /** Fraction of layers to remove (rounded, at least one). */
    ratio: z.number().gt(0).lt(1).default(0.25),
    /** Layers to remove; overrides `ratio`. */
    merges: z.number().int().min(1).max(1024).optional(),
    calibration_key: z.string().min(1).max(1024).optional(),
    calibration_file: z.string().min(1).max(4096).optional(),
    calib_samples: z.number().int().min(1).max(4096).default(32),
    seq: z.number().int().min(2).max(32768).optional(),
    seed: z.number().int().default(0),
    /** FlattenGPT: refit o_proj on the kept heads (the optional ridge refit); 'auto': when it lowers the held-out calibration score. */
    refit_o: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    /** FlattenGPT: candidate plans compressed and scored on held-out calibration windows (1: the greedy plan only). */
    plan_candidates: z.number().int().min(1).max(16).default(6),
    evaluate: z.boolean().default(true),
    /** The verdict's criteria for this model's variants (see src/serving/verdict.ts; absent: the defaults). */
    max_ppl_ratio: z.number().min(1).max(100).optional(),
    min_agreement: z.number().min(0).max(1).optional(),
    max_task_drop: z.number().min(0).max(1).optional(),
    eval_key: z.string().min(1).max(1024).optional(),
    eval_file: z.string().min(1).max(4096).optional(),
    /** Zero-shot tasks (default: all six; `tasks=` with nothing after it for none). */
    tasks: z.array(z.enum(TASK_NAMES)).max(TASK_NAMES.length).default([...TASK_NAMES]),
    task_limit: z.number().int().min(1).max(100_000).default(DEFAULT_TASK_LIMIT),
  })
  .strict();

/** Parsed compression parameters. */
export type CompressionParams = z.infer<typeof compressionParamsSchema>;

/** The verdict criteria an upload set, or null when it set none. */
export function criteriaOfParams(p: CompressionParams): { max_ppl_ratio?: number; min_agreement?: number; max_task_drop?: number } | null {
  const c = { max_ppl_ratio: p.max_ppl_ratio, min_agreement: p.min_agreement, max_task_drop: p.max_task_drop };
  return Object.values(c).some((v) => v !== undefined) ? JSON.parse(JSON.stringify(c)) : null;
}

/** Layers to remove from a model of `numLayers` layers: `merges`, or `ratio` of them rounded, at least 1. */
export function layersToRemove(p: CompressionParams, numLayers: number): number {
  const n = p.merges ?? Math.max(1, Math.round(p.ratio * numLayers));
  return Math.min(n, numLayers - 1);
}

/**
 * Parameters from URL query values (`methods=flattengpt,shortgpt&ratio=0.2&calib_samples=8`).
 * @throws the zod error's first issue as a message, via the caller.
 */
export function paramsFromQuery(query: Record<string, string | undefined>): unknown {
  const out: Record<string, unknown> = {};
  const nums = ['ratio', 'merges', 'calib_samples', 'seq', 'seed', 'task_limit', 'plan_candidates', 'max_ppl_ratio', 'min_agreement', 'max_task_drop'];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || k === 'name') continue;
    if (k === 'methods' || k === 'tasks') out[k] = v.split(',').map((s) => s.trim()).filter(Boolean);
    else if (nums.includes(k)) out[k] = v.trim() === '' ? NaN : Number(v);
    else if (k === 'evaluate' || k === 'refit_o') out[k] = v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v;
    else out[k] = v;
  }
  return out;
}
