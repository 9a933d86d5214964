/**
 * @module The side-by-side comparison of a model's variants: size, latency percentiles and throughput
 * over a window of recorded traffic, offline accuracy from the compression job, online agreement from
 * shadow traffic, and each variant's ratios to the original.
 */
import { countParams } from '../model/types.ts';
import type { MetricsStore } from './metrics.ts';
import { percentiles } from './metrics.ts';
import type { ModelPool, ServedModel } from './model-pool.ts';

/** Latency summary of one variant over the window (seconds). */
export interface LatencySummary {
  requests: number;
  queue: ReturnType<typeof percentiles>;
  ttft: ReturnType<typeof percentiles>;
  itl: ReturnType<typeof percentiles>;
  e2e: ReturnType<typeof percentiles>;
  /** Generated tokens per second of decoding, summed over requests: tokens / (e2e - ttft). */
  tokens_per_second: number | null;
  /** Raw samples for plots: TTFT, e2e (seconds). */
  samples: { ttft: number[]; e2e: number[]; itl: number[] };
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
  evaluation: Record<string, unknown> | null;
  /** Zero-shot accuracy per task, with standard errors (from `evaluation`). */
  tasks: Record<string, TaskAccuracy>;
  /** Shadow agreement with the original (teacher-forced top-1), when shadow traffic ran. */
  agreement: { top1: number; requests: number; tokens: number } | null;
  /** This variant / the original, for every number both have. */
  ratios: Record<string, number | null>;
}

async function facts(m: ServedModel): Promise<{ layers: number | null; params: number | null }> {
  if (m.info.layers !== undefined && m.info.params !== undefined) return { layers: m.info.layers, params: m.info.params };
  if (!m.resident || m.info.pending) return { layers: m.info.layers ?? null, params: m.info.params ?? null };
  const { model } = await m.loaded();
  return { layers: model.layers.length, params: countParams(model) };
}

function latency(metrics: MetricsStore, id: string, since: number): LatencySummary {
  const rows = metrics.window(id, since);
  const ttft = rows.flatMap((r) => (r.ttft === null ? [] : [r.ttft]));
  const itl = rows.flatMap((r) => r.itl);
  const e2e = rows.map((r) => r.e2e);
  let tokens = 0;
  let seconds = 0;
  for (const r of rows) {
    if (r.completionTokens > 1 && r.ttft !== null) {
      tokens += r.completionTokens - 1;
      seconds += r.e2e - r.ttft;
    }
  }
  return {
    requests: rows.length,
    queue: percentiles(rows.map((r) => r.queue)),
    ttft: percentiles(ttft),
    itl: percentiles(itl),
    e2e: percentiles(e2e),
    tokens_per_second: seconds > 0 ? tokens / seconds : null,
    samples: { ttft, e2e, itl: itl.slice(-2000) },
  };
}

const ratio = (a: number | null | undefined, b: number | null | undefined) => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : null);

/**
 * Builds the comparison of `id`'s family over the last `windowSeconds`.
 * @example const table = await compareVariants(pool, metrics, 'stories260K', 3600);
 */
export async function compareVariants(pool: ModelPool, metrics: MetricsStore, id: string, windowSeconds: number) {
  const root = pool.get(id);
  const family = pool.family(root.info.parent ?? root.id);
  const since = Date.now() - windowSeconds * 1000;
  const original = family.find((m) => m.info.parent === null) ?? family[0];
  const columns: VariantComparison[] = [];
  for (const m of family) {
    const f = await facts(m);
    columns.push({
      id: m.id,
      method: m.info.method,
      parent: m.info.parent,
      layers: f.layers,
      params: f.params,
      bytes: m.info.bytes ?? null,
      latency: latency(metrics, m.id, since),
      evaluation: m.info.evaluation ?? null,
      tasks: taskAccuracies(m.info.evaluation),
      agreement: m === original ? null : metrics.agreement(original.id, m.id, since),
      ratios: {},
    });
  }
  const base = columns.find((c) => c.id === original.id)!;
  const ppl = (c: VariantComparison) => (c.evaluation as { ppl?: number } | null)?.ppl;
  for (const c of columns) {
    c.ratios = {
      layers: ratio(c.layers, base.layers),
      params: ratio(c.params, base.params),
      bytes: ratio(c.bytes, base.bytes),
      ttft_p50: ratio(c.latency.ttft.p50, base.latency.ttft.p50),
      itl_p50: ratio(c.latency.itl.p50, base.latency.itl.p50),
      e2e_p50: ratio(c.latency.e2e.p50, base.latency.e2e.p50),
      tokens_per_second: ratio(c.latency.tokens_per_second, base.latency.tokens_per_second),
      ppl: ratio(ppl(c), ppl(base)),
    };
  }
  return { object: 'comparison', model: original.id, window_seconds: windowSeconds, generated_at: new Date().toISOString(), variants: columns };
}
