/**
 * @module The side-by-side comparison of a model's variants: size, latency percentiles and throughput
 * from every gateway's per-minute summaries over a window, per-token measures (inter-token latency, TTFT
 * per prompt-length bucket, prefill and decode tokens/s), the request mix and whether it differs between
 * variants, offline accuracy from the compression job, online agreement from shadow traffic, the latest
 * matched-workload benchmark, and each variant's ratios to the original.
 */
import { countParams } from '../model/types.ts';
import { judgeMix, mixOf, type Mix } from './comparison-mix.ts';
import type { ModelPool, ServedModel } from './model-pool.ts';
import { familyVerdicts, type VerdictCriteria } from './verdict.ts';
import { cdfPoints, emptySeries, mergeRows, sketchPercentiles, timeSeries, type MergedMeasures, type TimePoint } from './summary-read.ts';
import { HOUR_MS, LENGTH_BUCKETS, MINUTE_MS, type SummaryRecorder, type SummaryRow } from './summaries.ts';

type Percentiles = ReturnType<typeof sketchPercentiles>;

/** Latency and throughput of one variant over the window (seconds, tokens/s). */
export interface LatencySummary {
  requests: number;
  errors: number;
  aborted: number;
  /** Requests per second over the window, and the share that failed. */
  request_rate: number;
  error_rate: number | null;
  queue: Percentiles;
  ttft: Percentiles;
  itl: Percentiles;
  e2e: Percentiles;
  /** The forward of prompt-scoring calls (`echo` + `logprobs`, max_tokens 0), which `e2e` does not include. */
  scoring: Percentiles;
  /** TTFT per prompt-length bucket (tokens): compare like with like. */
  ttft_by_prompt: Record<string, Percentiles>;
  /** Generated tokens per second of decoding, over all requests: Σ(tokens - 1) / Σ(e2e - ttft). */
  tokens_per_second: number | null;
  /** Prompt tokens per second of prefill, over generations (Σ prompt / Σ(ttft - queue)) and scored prompts. */
  prefill_tokens_per_second: number | null;
  /** Per-request decode and prefill tokens/s. */
  decode_tps: Percentiles;
  prefill_tps: Percentiles;
  /** [seconds, cumulative fraction] at every percent, for CDF plots. */
  cdf: { ttft: [number, number][]; itl: [number, number][]; e2e: [number, number][] };
}

/**
 * A zero-shot task's accuracy over its `n` items, with the binomial standard error sqrt(p(1-p)/n) of each
 * accuracy (recomputed here from p and n, so evaluations stored before it was recorded have it too).
 */
export interface TaskAccuracy {
  acc: number;
  acc_stderr: number;
  acc_norm?: number;
  acc_norm_stderr?: number;
  n: number;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const stderr = (p: number, n: number) => Math.sqrt((p * (1 - p)) / n);

/** The task accuracies of a job's evaluation (`{ tasks: { piqa: { acc, acc_norm?, n } } }`). */
export function taskAccuracies(evaluation: Record<string, unknown> | null | undefined): Record<string, TaskAccuracy> {
  const out: Record<string, TaskAccuracy> = {};
  const tasks = evaluation?.tasks;
  if (!tasks || typeof tasks !== 'object') return out;
  for (const [name, score] of Object.entries(tasks as Record<string, Record<string, unknown>>)) {
    const { acc, acc_norm: norm, n } = score ?? {};
    if (!isNum(acc) || !Number.isInteger(n) || (n as number) < 1) continue;
    const count = n as number;
    out[name] = { acc, acc_stderr: stderr(acc, count), ...(isNum(norm) ? { acc_norm: norm, acc_norm_stderr: stderr(norm, count) } : {}), n: count };
  }
  return out;
}

/** One variant's column. */
export interface VariantComparison {
  id: string;
  method: string;
  parent: string | null;
  layers: number | null;
  params: number | null;
  bytes: number | null;
  latency: LatencySummary;
  mix: Mix;
  /** Requests, errors and latency per time bucket over the window. */
  series: TimePoint[];
  evaluation: Record<string, unknown> | null;
  /** Zero-shot accuracy per task, with standard errors (from `evaluation`). */
  tasks: Record<string, TaskAccuracy>;
  /** A verdict on the variant when one was made (`{ status, reasons }`), shown as it is. */
  verdict: Record<string, unknown> | null;
  /** Shadow agreement with the original (teacher-forced top-1), when shadow traffic ran. */
  agreement: { top1: number; requests: number; tokens: number } | null;
  /** This variant / the original, for every number both have. */
  ratios: Record<string, number | null>;
}

/** Where the comparison's numbers come from. */
export interface ComparisonSources {
  /** Every gateway's summary rows of `variants` since `since` (Unix ms). */
  summaries(variants: readonly string[], since: number): Promise<SummaryRow[]>;
  /** The latest matched-workload benchmark of the family, if any. */
  latestBenchmark?(model: string): Promise<Record<string, unknown> | null>;
}

/**
 * The sources of a gateway: its own unflushed minutes are written first, so its latest traffic shows.
 * @example await compareVariants(pool, gatewaySources(recorder, benchmarks), id, 3600);
 */
export function gatewaySources(recorder: SummaryRecorder, benchmarks?: { latest(model: string): Promise<Record<string, unknown> | null> }, log?: (msg: string, err?: unknown) => void): ComparisonSources {
  return {
    summaries: async (variants, since) => {
      await recorder.flush().catch((err) => log?.('cannot flush request summaries', err));
      return recorder.store.read(variants, since);
    },
    latestBenchmark: benchmarks ? (model) => benchmarks.latest(model) : undefined,
  };
}

async function facts(m: ServedModel): Promise<{ layers: number | null; params: number | null }> {
  if (m.info.layers !== undefined && m.info.params !== undefined) return { layers: m.info.layers, params: m.info.params };
  if (!m.resident || m.info.pending) return { layers: m.info.layers ?? null, params: m.info.params ?? null };
  const { model } = await m.loaded();
  return { layers: model.layers.length, params: countParams(model) };
}

const rate = (num: number, den: number) => (den > 0 ? num / den : null);

function latency(ms: MergedMeasures | undefined, windowSeconds: number): LatencySummary {
  const get = (k: string) => ms?.get(k);
  const requests = get('requests')?.count ?? 0;
  const errors = get('outcome:error')?.count ?? 0;
  const byPrompt: Record<string, Percentiles> = {};
  for (const b of LENGTH_BUCKETS) {
    const m = get(`ttft|prompt:${b}`);
    if (m) byPrompt[b] = sketchPercentiles(m);
  }
  return {
    requests,
    errors,
    aborted: get('outcome:aborted')?.count ?? 0,
    request_rate: requests / windowSeconds,
    error_rate: rate(errors, requests),
    queue: sketchPercentiles(get('queue')),
    ttft: sketchPercentiles(get('ttft')),
    itl: sketchPercentiles(get('itl')),
    e2e: sketchPercentiles(get('e2e')),
    scoring: sketchPercentiles(get('scoring')),
    ttft_by_prompt: byPrompt,
    tokens_per_second: rate(get('decode_tokens')?.sum ?? 0, get('decode_seconds')?.sum ?? 0),
    prefill_tokens_per_second: rate(get('prefill_tokens')?.sum ?? 0, get('prefill_seconds')?.sum ?? 0),
    decode_tps: sketchPercentiles(get('decode_tps')),
    prefill_tps: sketchPercentiles(get('prefill_tps')),
    cdf: { ttft: cdfPoints(get('ttft')), itl: cdfPoints(get('itl')), e2e: cdfPoints(get('e2e')) },
  };
}

/** Token-weighted shadow agreement between `a` and `b` (either one the primary), or null if none ran. */
function agreement(byVariant: Map<string, MergedMeasures>, a: string, b: string): VariantComparison['agreement'] {
  let agree = 0;
  let tokens = 0;
  let requests = 0;
  for (const [shadow, primary] of [[a, b], [b, a]]) {
    const ms = byVariant.get(shadow);
    const top = ms?.get(`agreement@${primary}`);
    const tok = ms?.get(`agreement_tokens@${primary}`);
    if (!top || !tok) continue;
    agree += top.sum;
    tokens += tok.sum;
    requests += tok.count;
  }
  return tokens > 0 ? { top1: agree / tokens, requests, tokens } : null;
}

const ratio = (a: number | null | undefined, b: number | null | undefined) => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : null);

/**
 * The time-axis bucket for a window, about 60 points at most: whole minutes up to 2 hours, whole hours
 * beyond (hours older than two are kept as one merged row each).
 */
export function bucketMsOf(windowSeconds: number): number {
  const unit = windowSeconds > 7200 ? HOUR_MS : MINUTE_MS;
  return Math.max(1, Math.ceil((windowSeconds * 1000) / unit / 60)) * unit;
}

function ratiosOf(c: VariantComparison, base: VariantComparison): Record<string, number | null> {
  const ppl = (v: VariantComparison) => (v.evaluation as { ppl?: number } | null)?.ppl;
  const out: Record<string, number | null> = {
    layers: ratio(c.layers, base.layers),
    params: ratio(c.params, base.params),
    bytes: ratio(c.bytes, base.bytes),
    ttft_p50: ratio(c.latency.ttft.p50, base.latency.ttft.p50),
    itl_p50: ratio(c.latency.itl.p50, base.latency.itl.p50),
    e2e_p50: ratio(c.latency.e2e.p50, base.latency.e2e.p50),
    tokens_per_second: ratio(c.latency.tokens_per_second, base.latency.tokens_per_second),
    prefill_tokens_per_second: ratio(c.latency.prefill_tokens_per_second, base.latency.prefill_tokens_per_second),
    ppl: ratio(ppl(c), ppl(base)),
  };
  for (const b of LENGTH_BUCKETS) {
    const r = ratio(c.latency.ttft_by_prompt[b]?.p50, base.latency.ttft_by_prompt[b]?.p50);
    if (r !== null) out[`ttft_p50|prompt:${b}`] = r;
  }
  return out;
}

/**
 * Builds the comparison of `id`'s family over the last `windowSeconds` (rounded out to whole minutes, or
 * whole hours past 2 hours).
 * @example const table = await compareVariants(pool, sources, 'stories260K', 3600, Date.now(), criteria);
 */
export async function compareVariants(pool: ModelPool, sources: ComparisonSources, id: string, windowSeconds: number, now = Date.now(), criteria?: VerdictCriteria) {
  const root = pool.get(id);
  const family = pool.family(root.info.parent ?? root.id);
  const original = family.find((m) => m.info.parent === null) ?? family[0];
  const bucketMs = bucketMsOf(windowSeconds);
  const unit = bucketMs % HOUR_MS === 0 ? HOUR_MS : MINUTE_MS;
  const since = Math.floor((now - windowSeconds * 1000) / unit) * unit;
  const rows = await sources.summaries(family.map((m) => m.id), since);
  const byVariant = mergeRows(rows);
  const series = timeSeries(rows, since, now, bucketMs);
  const columns: VariantComparison[] = [];
  // the same verdicts as GET /v1/models/:id (the model's criteria when the caller knows them)
  const verdicts = familyVerdicts(family.map((m) => ({ method: m.info.method, evaluation: m.info.evaluation })), criteria);
  for (const [i, m] of family.entries()) {
    const f = await facts(m);
    const evaluation = m.info.evaluation ?? null;
    const verdict = m.info.pending ? null : ((verdicts[i] as Record<string, unknown> | null) ?? null);
    columns.push({
      id: m.id,
      method: m.info.method,
      parent: m.info.parent,
      layers: f.layers,
      params: f.params,
      bytes: m.info.bytes ?? null,
      latency: latency(byVariant.get(m.id), (now - since) / 1000),
      mix: mixOf(byVariant.get(m.id)),
      series: series.get(m.id) ?? emptySeries(since, now, bucketMs),
      evaluation,
      tasks: taskAccuracies(m.info.evaluation),
      verdict,
      agreement: m === original ? null : agreement(byVariant, original.id, m.id),
      ratios: {},
    });
  }
  const base = columns.find((c) => c.id === original.id)!;
  for (const c of columns) c.ratios = ratiosOf(c, base);
  const matched = (await sources.latestBenchmark?.(original.id)) ?? null;
  return {
    object: 'comparison',
    model: original.id,
    window_seconds: windowSeconds,
    since: new Date(since).toISOString(),
    bucket_seconds: bucketMs / 1000,
    generated_at: new Date(now).toISOString(),
    fairness: judgeMix(columns.map((c) => ({ id: c.id, mix: c.mix })), original.id),
    matched_workload: matched,
    variants: columns,
  };
}
