/**
 * @module A compression job end to end: calibration set -> similarity of the original model -> the
 * method (FlattenGPT plan/flatten/prune, ShortGPT or SLEB) -> optional perplexity check -> export as a
 * Hugging Face folder (read back to prove it loads) -> report.json. Orchestration only.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { InvalidRequest } from '../errors.ts';
import { loadModel } from '../model/load.ts';
import { saveHfFolder } from '../model/save-hf.ts';
import { countParams, type LlamaModel, type LoadedModel } from '../model/types.ts';
import { perplexity } from '../serving/score.ts';
import type { ProviderPreference } from '../serving/session/backend.ts';
import { createDecoderSession } from '../serving/session/local-backend.ts';
import { loadCalibrationSet, type CalibrationSet } from './calibration.ts';
import { createChainDecoder } from './chain-decoder.ts';
import { mergesForTarget } from './flatten/plan.ts';
import { DEFAULT_RHO, flattenGpt, type FlattenGptResult } from './flattengpt.ts';
import { loadHeldOutWindows } from './holdout.ts';
import { searchPlan, type PlanSearchOptions } from './plan-search.ts';
import type { ChannelScoring } from './mlp-selection.ts';
import type { ProgressListener } from './progress.ts';
import { calibrationJson, groupDetailsJson, searchJson, writeReport, type CompressionReport, type EvaluationReport, type Method } from './report.ts';
import { blockInfluence, shortGpt } from './shortgpt.ts';
import { sleb } from './sleb.ts';
import { collectSimilarity } from './statistics.ts';
import { blockParams } from './tensor-ops.ts';

/** A compression job's parameters. */
export interface CompressJob {
  method: Method;
  /** Layers to remove, or a fraction of parameters to remove. */
  target: { merges: number } | { ratio: number };
  calib: { file: string; samples: number; seq?: number; seed: number };
  rho?: number;
  prune?: boolean;
  compensate?: boolean;
  /**
   * Refit o_proj on the kept heads (the optional ridge refit of flattengpt.md section 3); 'auto' (the
   * default with the plan search) keeps it when it lowers the held-out calibration score.
   */
  refitO?: boolean | 'auto';
  /**
   * FlattenGPT's plan search (default on when pruning): candidate budget, near-tie margin, and held-out
   * calibration windows to score on (default 16); false: the greedy plan only, as the paper does.
   */
  search?: (PlanSearchOptions & { holdout?: number }) | false;
  scoring?: ChannelScoring;
  threads?: number;
  provider?: ProviderPreference;
  batchSize?: number;
  cacheActivations?: boolean;
  /** Held-out text to score the result (and the dense model) on. */
  evalText?: string;
  /** Window of that perplexity (default min(256, context - 1)). */
  evalSeq?: number;
}

/** The compressed model and its report. */
export interface CompressOutcome {
  loaded: LoadedModel;
  report: CompressionReport;
}

/** Runs `job` on an already loaded model (nothing is written). */
export async function compress(
  source: LoadedModel,
  job: CompressJob,
  opts: { onProgress?: ProgressListener; calibration?: CalibrationSet; similarity?: number[][] } = {},
): Promise<CompressOutcome> {
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  const lap = (name: string, since: number) => (timings[name] = (performance.now() - since) / 1000);
  const { model, tokenizer } = source;
  const cfg = model.config;
  const L = model.layers.length;
  if ('merges' in job.target && !(Number.isInteger(job.target.merges) && job.target.merges >= 0 && job.target.merges < L)) {
    throw new InvalidRequest(`merges must be an integer from 0 to ${L - 1} for a model of ${L} layers, got ${job.target.merges}`, 'merges');
  }
  const merges = 'merges' in job.target
    ? job.target.merges
    : mergesForTarget({ paramRatio: job.target.ratio, totalParams: countParams(model), paramsPerBlock: blockParams(model.layers[0]) }, L);
  const session = { threads: job.threads, provider: job.provider, batchSize: job.batchSize, onProgress: opts.onProgress };
  let t = performance.now();
  const calib = opts.calibration ?? (await loadCalibrationSet(job.calib.file, tokenizer, {
    samples: job.calib.samples,
    seq: job.calib.seq ?? Math.min(2048, cfg.maxPositions),
    seed: job.calib.seed,
  }));
  if (calib.seq > cfg.maxPositions) throw new InvalidRequest(`calibration length ${calib.seq} exceeds the model's context of ${cfg.maxPositions}`, 'seq');
  lap('calibration', t);
  t = performance.now();
  let provider: 'cuda' | 'cpu' = 'cpu';
  let similarity = opts.similarity;
  if (!similarity) {
    const sim = await collectSimilarity(model, calib, { ...session, onBatch: (done, total) => opts.onProgress?.({ stage: 'similarity', done, total }) });
    similarity = sim.S;
    provider = sim.provider;
  }
  lap('similarity', t);
  t = performance.now();
  const notes: string[] = [];
  const base = {
    method: job.method, variant: null, model: source.source, layers_before: L, params_before: countParams(model),
    groups: null, removed: null, similarity: similarity.slice(0, L).map((r) => r.slice(0, L)), block_influence: blockInfluence(similarity),
    rho: null, lambda: [], group_details: [], sleb_rounds: null, calibration: calibrationJson(calib), provider, frontier: null,
    standard: true, exported: false, notes, evaluation: null,
  } satisfies Partial<CompressionReport>;
  let result: LlamaModel;
  let extra: Partial<CompressionReport> = {};
  if (job.method === 'flattengpt') {
    const prune = job.prune ?? true;
    const compensate = job.compensate ?? true;
    const scoring = job.scoring ?? 'leverage';
    const rho = job.rho ?? DEFAULT_RHO;
    const common = { ...session, merges, rho, prune, compensate, scoring, similarity, cacheActivations: job.cacheActivations };
    const searching = prune && merges > 0 && job.search !== false;
    let r: FlattenGptResult;
    let refitO: boolean;
    let searched: Partial<CompressionReport> = {};
    if (searching) {
      const opt = job.search || {};
      const held = await loadHeldOutWindows(job.calib.file, tokenizer, calib, opt.holdout ?? 16);
      if (!held.disjoint) notes.push('the calibration text is too short for held-out windows apart from the statistics windows: candidates were scored on overlapping text');
      const s = await searchPlan(model, calib, held.set, common, opt, job.refitO ?? 'auto');
      r = s.result;
      refitO = s.refitO;
      searched = searchJson(s, { windows: held.set.samples.length, tokens: held.set.samples.length * (held.set.seq - 1), disjoint: held.disjoint });
      lap('search', t);
    } else {
      refitO = job.refitO === true;
      r = await flattenGpt(model, calib, { ...common, refitO });
    }
    result = r.model;
    extra = {
      ...searched,
      variant: { prune, compensate, refit_o: refitO, scoring }, groups: r.plan.groups, rho, lambda: r.groups.flatMap((g) => g.channels ? [g.channels.lambda] : []),
      group_details: groupDetailsJson(r.groups), frontier: r.frontier, standard: r.standard,
    };
    if (!r.standard) notes.push('flattened blocks were not pruned back to the original width: not a standard checkpoint, so only report.json is written');
  } else if (job.method === 'shortgpt') {
    const r = await shortGpt(model, calib, { ...session, remove: merges, similarity });
    result = r.model;
    extra = { removed: r.removed };
  } else {
    const r = await sleb(model, calib, { ...session, remove: merges });
    result = r.model;
    extra = { removed: r.removed, sleb_rounds: r.rounds };
  }
  lap('method', t);
  const loaded: LoadedModel = { model: result, tokenizer, source: `${source.source} (${job.method})` };
  let evaluation: EvaluationReport | null = null;
  if (job.evalText) {
    t = performance.now();
    evaluation = await evaluatePerplexity(source, loaded, job.evalText, job.evalSeq, job.threads, job.provider, extra.standard ?? true);
    if (evaluation.cliff) notes.push(`quality fell off a cliff: perplexity ${evaluation.ppl.toFixed(2)} vs ${evaluation.dense_ppl?.toFixed(2)} dense`);
    lap('evaluation', t);
  }
  const paramsAfter = countParams(result);
  const report: CompressionReport = {
    ...base, ...extra, layers_after: result.layers.length, params_after: paramsAfter,
    param_ratio_removed: 1 - paramsAfter / base.params_before, evaluation, timings, seconds: (performance.now() - t0) / 1000,
  };
  return { loaded, report };
}

/** Perplexity of the dense and the compressed model on `file` (an unpruned wide model runs block by block). */
async function evaluatePerplexity(
  dense: LoadedModel, result: LoadedModel, file: string, seqOpt: number | undefined, threads?: number, provider?: ProviderPreference, standard = true,
): Promise<EvaluationReport> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new InvalidRequest(`cannot read evaluation text ${file}`, 'eval-text');
  });
  const ids = dense.tokenizer.encode(text);
  const seq = seqOpt ?? Math.min(256, dense.model.config.maxPositions - 1);
  const score = async (m: LlamaModel, wide: boolean) => {
    const d = wide ? await createChainDecoder(m, { threads, provider }) : await createDecoderSession(m, { threads, provider });
    try {
      return await perplexity(d, ids, { seq, bos: dense.tokenizer.bosId });
    } finally {
      await d.release();
    }
  };
  const after = await score(result.model, !standard);
  const before = await score(dense.model, false);
  return { file, seq, tokens: after.tokens, ppl: after.ppl, nll: after.nll, dense_ppl: before.ppl, cliff: after.ppl > 2 * before.ppl };
}

/**
 * Loads `modelPath`, compresses it, writes `outDir` as a Hugging Face folder (when the result is a
 * standard checkpoint; it is then read back to prove it loads) and `outDir/report.json`.
 * @example await runCompression('stories260K.bin', { method: 'flattengpt', target: { merges: 1 }, calib: { file: 'calib.txt', samples: 128, seed: 0 } }, 'out')
 */
export async function runCompression(modelPath: string, job: CompressJob, outDir: string, opts: { onProgress?: ProgressListener; tokenizer?: string } = {}): Promise<CompressionReport> {
  const source = await loadModel(modelPath, { tokenizer: opts.tokenizer });
  const { loaded, report } = await compress(source, job, opts);
  const t = performance.now();
  if (report.standard) {
    opts.onProgress?.({ stage: 'export', done: 0, total: 1 });
    await saveHfFolder(outDir, loaded);
    const back = await loadModel(outDir);
    if (back.model.layers.length !== report.layers_after || countParams(back.model) !== report.params_after) {
      throw new Error(`exported model in ${outDir} does not read back as written (internal error)`);
    }
    report.exported = true;
  } else {
    await mkdir(outDir, { recursive: true });
  }
  report.timings.export = (performance.now() - t) / 1000;
  await writeReport(outDir, report);
  return report;
}
