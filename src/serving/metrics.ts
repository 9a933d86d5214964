/**
 * @module Per-request serving metrics, per model and variant: queue time, time to first token,
 * inter-token latency, end-to-end latency and token counts. Keeps a bounded window of samples for the
 * comparison endpoint and cumulative histograms for Prometheus, with vLLM's metric names and buckets
 * under our own prefix.
 */

/** One finished request. Times in seconds. */
export interface RequestSample {
  /** The original model's id (the family). */
  model: string;
  /** The served variant's id. */
  variant: string;
  /** Unix milliseconds at the end of the request. */
  at: number;
  queue: number;
  /** null when no token was generated (scoring only). */
  ttft: number | null;
  /** Gaps between consecutive generated tokens. */
  itl: number[];
  e2e: number;
  promptTokens: number;
  completionTokens: number;
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

const PREFIX = 'flatgate:';

/** vLLM's buckets for each histogram (seconds). */
const BUCKETS = {
  request_queue_time_seconds: [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680],
  time_to_first_token_seconds: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560],
  inter_token_latency_seconds: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80],
  e2e_request_latency_seconds: [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680],
} as const;
type HistogramName = keyof typeof BUCKETS;

const HELP: Record<HistogramName | 'prompt_tokens_total' | 'generation_tokens_total' | 'request_success_total', string> = {
  request_queue_time_seconds: 'Time spent waiting in the variant queue before running.',
  time_to_first_token_seconds: 'Time from request arrival to the first generated token.',
  inter_token_latency_seconds: 'Time between consecutive generated tokens.',
  e2e_request_latency_seconds: 'Time from request arrival to the end of the response.',
  prompt_tokens_total: 'Prompt tokens processed.',
  generation_tokens_total: 'Tokens generated.',
  request_success_total: 'Requests finished.',
};

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array(bounds.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (v <= this.bounds[i]) this.counts[i]++;
  }
}

interface Series {
  histograms: Record<HistogramName, Histogram>;
  promptTokens: number;
  generationTokens: number;
  requests: number;
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
      const histograms = Object.fromEntries(Object.entries(BUCKETS).map(([k, b]) => [k, new Histogram(b)])) as Record<HistogramName, Histogram>;
      series = { histograms, promptTokens: 0, generationTokens: 0, requests: 0 };
      this.series.set(key, series);
    }
    series.histograms.request_queue_time_seconds.observe(s.queue);
    if (s.ttft !== null) series.histograms.time_to_first_token_seconds.observe(s.ttft);
    for (const gap of s.itl) series.histograms.inter_token_latency_seconds.observe(gap);
    series.histograms.e2e_request_latency_seconds.observe(s.e2e);
    series.promptTokens += s.promptTokens;
    series.generationTokens += s.completionTokens;
    series.requests++;
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

  /** Prometheus text exposition (format 0.0.4). */
  prometheus(): string {
    const lines: string[] = [];
    const label = (model: string, variant: string) => `model="${esc(model)}",variant="${esc(variant)}"`;
    for (const name of Object.keys(BUCKETS) as HistogramName[]) {
      lines.push(`# HELP ${PREFIX}${name} ${HELP[name]}`, `# TYPE ${PREFIX}${name} histogram`);
      for (const [key, s] of this.series) {
        const [model, variant] = key.split('\u0000');
        const h = s.histograms[name];
        const l = label(model, variant);
        h.bounds.forEach((b, i) => lines.push(`${PREFIX}${name}_bucket{${l},le="${b}"} ${h.counts[i]}`));
        lines.push(`${PREFIX}${name}_bucket{${l},le="+Inf"} ${h.count}`, `${PREFIX}${name}_sum{${l}} ${h.sum}`, `${PREFIX}${name}_count{${l}} ${h.count}`);
      }
    }
    const counters: [string, (s: Series) => number][] = [
      ['prompt_tokens_total', (s) => s.promptTokens],
      ['generation_tokens_total', (s) => s.generationTokens],
      ['request_success_total', (s) => s.requests],
    ];
    for (const [name, get] of counters) {
      lines.push(`# HELP ${PREFIX}${name} ${HELP[name as keyof typeof HELP]}`, `# TYPE ${PREFIX}${name} counter`);
      for (const [key, s] of this.series) {
        const [model, variant] = key.split('\u0000');
        lines.push(`${PREFIX}${name}{${label(model, variant)}} ${get(s)}`);
      }
    }
    return lines.join('\n') + '\n';
  }
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
