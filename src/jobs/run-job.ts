/**
 * @module One compression job, as a worker runs it: download the upload, load it, publish the original
 * (HF + ONNX + evaluation), build one calibration set and similarity, then for each method compress,
 * evaluate against the original, export and publish. Each variant becomes visible only when complete.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { loadCalibrationSet } from '../compression/calibration.ts';
import { evaluateModel, type EvaluationResult } from '../compression/eval/evaluate.ts';
import { compress } from '../compression/pipeline.ts';
import { reportForDatabase } from '../compression/report.ts';
import { collectSimilarity } from '../compression/statistics.ts';
import type { VariantEvaluation } from '../db/schema.ts';
import { UnsupportedModel } from '../errors.ts';
import { loadModel } from '../model/load.ts';
import { saveHfFolder } from '../model/save-hf.ts';
import { countParams, type LoadedModel } from '../model/types.ts';
import { writeOnnxExport } from '../serving/export-onnx.ts';
import { attentionUnsupported } from '../serving/graph/support.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { publishFolder } from '../storage/publish-folder.ts';
import { STAGING_PREFIX } from '../storage/layout.ts';
import { layersToRemove, type CompressionParams } from './params.ts';

/** Built-in calibration text (a TinyStories excerpt, CDLA-Sharing-1.0; see fixtures/text/NOTICE). */
export const DEFAULT_CALIBRATION_FILE = fileURLToPath(new URL('../../fixtures/text/tinystories-calib.txt', import.meta.url));
/** Built-in held-out evaluation text. */
export const DEFAULT_EVAL_FILE = fileURLToPath(new URL('../../fixtures/text/tinystories-eval.txt', import.meta.url));

/** A variant the job produced. */
export interface VariantResult {
  name: string;
  method: string;
  layers: number;
  params: number;
  bytes: number;
  evaluation: VariantEvaluation;
  report: Record<string, unknown> | null;
}

/** What {@link runJob} needs. */
export interface JobContext {
  job: { id: string; modelId: string; attempts: number; sourceKey: string; params: CompressionParams };
  store: ObjectStore;
  /** Scratch folder of this attempt (removed by the caller). */
  workDir: string;
  /** Latest stage and overall progress in [0, 1]. */
  onProgress(stage: string, progress: number): void;
  /** Aborted when the worker lost its lease. */
  signal: AbortSignal;
  threads?: number;
  /** Folder with the zero-shot task files (FLATGATE_TASK_DATA_DIR; default: the bundled subsets). */
  taskDataDir?: string;
}

/** The variant name of a method that removed `removed` of `layers` layers, e.g. `flattengpt-25`. */
export const variantName = (method: string, removed: number, layers: number) => `${method}-${Math.round((100 * removed) / layers)}`;

async function folderBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) n += (await stat(join(e.parentPath, e.name))).size;
  return n;
}

async function textFile(ctx: JobContext, key: string | undefined, file: string | undefined, fallback: string, name: string): Promise<string> {
  if (file) return file;
  if (!key) return fallback;
  const dest = join(ctx.workDir, name);
  await pipeline(await ctx.store.get(key), createWriteStream(dest));
  return dest;
}

function evaluationOf(r: EvaluationResult | null): VariantEvaluation {
  const seconds = r?.seconds.ppl;
  const speed = r?.tokens && seconds ? { tokens_per_s: r.tokens / seconds, tokens: r.tokens, seconds } : null;
  return { ppl: r?.ppl ?? null, tasks: r?.tasks ?? {}, agreement: r?.agreement ? { ...r.agreement } : {}, speed };
}

/**
 * Runs the job and returns its variants (original first). Throws on failure; the caller decides on
 * retry. Progress: download 5%, original 20%, statistics 15%, methods the rest.
 */
export async function runJob(ctx: JobContext): Promise<VariantResult[]> {
  const { job, store, workDir, signal } = ctx;
  const p = job.params;
  const step = (stage: string, progress: number) => {
    signal.throwIfAborted();
    ctx.onProgress(stage, progress);
  };
  await mkdir(workDir, { recursive: true });
  step('download', 0);
  const archive = join(workDir, 'upload.tar');
  await pipeline(await store.get(job.sourceKey), createWriteStream(archive), { signal });
  step('load', 0.05);
  // the source folder stays until the job ends, so the original's matrices are read from it as each
  // block is used: a 1B-class original is not held in float32 beside everything else
  const original = await loadModel(archive, { extractDir: join(workDir, 'source'), weightsOnAccess: true });
  // bucket uploads reach the worker unchecked: refuse what the serving graph cannot run before publishing anything
  const unsupported = attentionUnsupported(original.model.config);
  if (unsupported) throw new UnsupportedModel(unsupported);
  const nonce = `job-${job.id}-${job.attempts}`;
  const evalFile = p.evaluate ? await textFile(ctx, p.eval_key, p.eval_file, DEFAULT_EVAL_FILE, 'eval.txt') : null;
  const L = original.model.layers.length;
  const cfg = original.model.config;
  const evalSeq = Math.min(256, cfg.maxPositions - 1);
  const evaluate = async (loaded: LoadedModel, against?: LoadedModel) =>
    evalFile ? evaluateModel(loaded, { pplFile: evalFile, seq: evalSeq, tasks: p.tasks, limit: p.task_limit, dataDir: ctx.taskDataDir, against, threads: ctx.threads }) : null;

  const publish = async (name: string, method: string, loaded: LoadedModel, report: Record<string, unknown> | null, ev: EvaluationResult | null): Promise<VariantResult> => {
    const dir = join(workDir, 'out', name);
    await saveHfFolder(join(dir, 'hf'), loaded);
    const bytes = await folderBytes(join(dir, 'hf'));
    await writeOnnxExport(join(dir, 'onnx'), loaded);
    const evaluation = evaluationOf(ev);
    const full = { ...(report ?? { method }), job_evaluation: evaluation };
    await writeFile(join(dir, 'report.json'), JSON.stringify(full, null, 2) + '\n');
    signal.throwIfAborted();
    await publishFolder(store, dir, job.modelId, name, nonce);
    return { name, method, layers: loaded.model.layers.length, params: countParams(loaded.model), bytes, evaluation, report };
  };

  step('original', 0.1);
  const results = [await publish('original', 'original', original, null, await evaluate(original))];
  step('calibration', 0.25);
  const calibFile = await textFile(ctx, p.calibration_key, p.calibration_file, DEFAULT_CALIBRATION_FILE, 'calib.txt');
  const seq = p.seq ?? Math.min(256, cfg.maxPositions);
  const calibration = await loadCalibrationSet(calibFile, original.tokenizer, { samples: p.calib_samples, seq, seed: p.seed });
  const session = { threads: ctx.threads };
  const similarity = (await collectSimilarity(original.model, calibration, { ...session, onBatch: (d, n) => step('similarity', 0.25 + (0.15 * d) / n) })).S;
  const removed = layersToRemove(p, L);
  const share = 0.6 / p.methods.length;
  for (const [i, method] of p.methods.entries()) {
    const base = 0.4 + i * share;
    step(`compress:${method}`, base);
    const { loaded, report } = await compress(
      original,
      { method, target: { merges: removed }, calib: { file: calibFile, samples: p.calib_samples, seq, seed: p.seed }, refitO: p.refit_o,
        search: p.plan_candidates > 1 ? { budget: p.plan_candidates } : false, threads: ctx.threads },
      { calibration, similarity, onProgress: (e) => step(`compress:${method}:${e.stage}`, base + share * 0.6 * (e.total ? e.done / e.total : 0)) },
    );
    step(`evaluate:${method}`, base + share * 0.6);
    const ev = await evaluate(loaded, original);
    step(`publish:${method}`, base + share * 0.85);
    // report.json in the bucket is complete; the completion (a JSON request, then a database row) carries the summary
    const name = variantName(method, L - loaded.model.layers.length, L);
    const published = await publish(name, method, loaded, report as unknown as Record<string, unknown>, ev);
    results.push({ ...published, report: reportForDatabase(report) as unknown as Record<string, unknown> });
  }
  step('finishing', 1);
  await store.deletePrefix(`${STAGING_PREFIX}job-${job.id}-`);
  return results;
}
