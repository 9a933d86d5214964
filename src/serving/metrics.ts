/**
 * @module Per-request serving metrics, per model and variant: queue time, time to first token,
 * inter-token latency, end-to-end latency and token counts. Keeps a bounded window of samples for the
 * comparison endpoint and cumulative histograms for Prometheus, with vLLM's metric names and buckets
 * under our own prefix.
 */

import { renderPrometheus, Series, type ObservedRequest, type VariantLoad } from './prometheus.ts';

/** One finished request (times in seconds): what the Prometheus series observe, plus when and how it ended. */
export interface RequestSample extends ObservedRequest {
  /** Unix milliseconds at the end of the request. */
  at: number;
  /** `scoring`: max_tokens 0 (prompt only, what lm-evaluation-harness sends); default `generation`. */
  kind?: 'generation' | 'scoring';
  /** How the request ended: finished, failed, or stopped by the client (default `ok`). */
  outcome?: 'ok' | 'error' | 'aborted';
}

/** Receives every sample and shadow agreement as it is recorded (the per-minute summaries). */
export interface MetricsObserver {
  sample(s: RequestSample): void;
  agreement(primary: string, shadow: string, top1: number, tokens: number): void;
  /** A prompt-scoring forward (`echo` + `logprobs`): its seconds and the prompt's tokens. */
  scoring?(model: string, variant: string, seconds: number, promptTokens: number): void;
}

/** Quantile of a sorted sample (linear interpolation), or null for an empty one. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** p50/p95/p99 and the count of a sample. */
export function percentiles(values: readonly number[]): { p50: number | null; p95: number | null; p99: number | null; n: number } {
  const s = [...values].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p95: quantile(s, 0.95), p99: quantile(s, 0.99), n: s.length };
}

/**
 * Records samples and renders them.
 * @example metrics.record(sample); res.text(metrics.prometheus());
 */
export class MetricsStore {
  private readonly samples = new Map<string, RequestSample[]>();
  private readonly series = new Map<string, Series>();
  private readonly errors = new Map<number, number>();
  /** Agreement of shadow runs: key `primary\u0000shadow`. */
  private readonly agreements = new Map<string, { at: number; top1: number; tokens: number }[]>();
  private readonly observers: MetricsObserver[] = [];

  /**
   * @param windowSize samples kept per variant for comparisons
   * @param sink also receives every sample (the Node entry writes them to the database)
   */
  constructor(
    private readonly windowSize = 10_000,
    private readonly sink?: (s: RequestSample) => void,
  ) {}

  /** Adds an observer of every later sample and agreement. */
  observe(o: MetricsObserver): void {
    this.observers.push(o);
  }

  record(s: RequestSample): void {
    this.sink?.(s);
    for (const o of this.observers) o.sample(s);
    const list = this.samples.get(s.variant) ?? [];
    list.push(s);
    if (list.length > this.windowSize) list.splice(0, list.length - this.windowSize);
    this.samples.set(s.variant, list);
    const key = `${s.model}\u0000${s.variant}`;
    let series = this.series.get(key);
    if (!series) {
      series = new Series(s.model, s.variant);
      this.series.set(key, series);
    }
    series.observe(s);
  }

  /** Counts a response with an error status (4xx, 5xx). */
  recordError(status: number): void {
    this.errors.set(status, (this.errors.get(status) ?? 0) + 1);
  }

  /** Samples of `variant` that ended at or after `since` (Unix ms). */
  window(variant: string, since = 0): RequestSample[] {
    return (this.samples.get(variant) ?? []).filter((s) => s.at >= since);
  }

  /** Records the forward of a scored prompt (the request itself is recorded by `record`). */
  recordScoring(model: string, variant: string, seconds: number, promptTokens: number): void {
    for (const o of this.observers) o.scoring?.(model, variant, seconds, promptTokens);
  }

  recordAgreement(primary: string, shadow: string, top1: number, tokens: number): void {
    for (const o of this.observers) o.agreement(primary, shadow, top1, tokens);
    const key = `${primary}\u0000${shadow}`;
    const list = this.agreements.get(key) ?? [];
    list.push({ at: Date.now(), top1, tokens });
    if (list.length > this.windowSize) list.shift();
    this.agreements.set(key, list);
  }

  /** Token-weighted shadow agreement between two variants (either direction), or null if none ran. */
  agreement(a: string, b: string, since = 0): { top1: number; requests: number; tokens: number } | null {
    const rows = [...(this.agreements.get(`${a}\u0000${b}`) ?? []), ...(this.agreements.get(`${b}\u0000${a}`) ?? [])].filter((r) => r.at >= since);
    const tokens = rows.reduce((s, r) => s + r.tokens, 0);
    if (tokens === 0) return null;
    return { top1: rows.reduce((s, r) => s + r.top1 * r.tokens, 0) / tokens, requests: rows.length, tokens };
  }

  /**
   * Prometheus text exposition (format 0.0.4) of vLLM's families.
   * @param opts.loads running/waiting requests per variant now (the gauges)
   * @param opts.include keeps only the models it accepts
   */
  prometheus(opts: { loads?: Iterable<VariantLoad>; include?: (model: string) => boolean } = {}): string {
    return renderPrometheus({ series: this.series.values(), loads: opts.loads, errors: this.errors, include: opts.include });
  }
}
