/**
 * @module The Prometheus side of the serving metrics: vLLM's metric families (histograms with vLLM's
 * buckets, token and request counters, running/waiting gauges) under our own prefix, labelled with
 * vLLM's `model_name` (the model family clients name) plus `variant` (the variant that served), and
 * HTTP error counts by status. Series are gathered, filtered, then rendered, so that restricting the
 * output to some models is one predicate.
 */

/** One finished request, as the series need it. Times in seconds. */
export interface ObservedRequest {
  /** The original model's id (the family). */
  model: string;
  /** The served variant's id. */
  variant: string;
  queue: number;
  /** null when no token was generated (scoring only). */
  ttft: number | null;
  /** Gaps between consecutive generated tokens. */
  itl: number[];
  e2e: number;
  promptTokens: number;
  completionTokens: number;
  /** stop, length or abort (vLLM's finished_reason); absent counts as stop. */
  finishReason?: string;
}

const PREFIX = 'flatgate:';

/** vLLM's 1-2-5 buckets for token counts. */
const TOKEN_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000];
const LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];
const TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];

/** Each histogram family: vLLM's buckets and help text. */
const HISTOGRAMS = {
  request_queue_time_seconds: { buckets: LATENCY_BUCKETS, help: 'Time spent waiting in the variant queue before running.' },
  time_to_first_token_seconds: {
    buckets: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560],
    help: 'Time from request arrival to the first generated token.',
  },
  inter_token_latency_seconds: { buckets: TPOT_BUCKETS, help: 'Time between consecutive generated tokens.' },
  request_time_per_output_token_seconds: { buckets: TPOT_BUCKETS, help: 'Mean time per generated token after the first, per request.' },
  e2e_request_latency_seconds: { buckets: LATENCY_BUCKETS, help: 'Time from request arrival to the end of the response.' },
  request_prompt_tokens: { buckets: TOKEN_BUCKETS, help: 'Prompt tokens per request.' },
  request_generation_tokens: { buckets: TOKEN_BUCKETS, help: 'Generated tokens per request.' },
} as const;
type HistogramName = keyof typeof HISTOGRAMS;

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

/** Cumulative figures of one (model, variant). */
export class Series {
  readonly histograms = Object.fromEntries(Object.entries(HISTOGRAMS).map(([k, h]) => [k, new Histogram(h.buckets)])) as Record<HistogramName, Histogram>;
  promptTokens = 0;
  generationTokens = 0;
  /** finished_reason -> requests. */
  readonly finished = new Map<string, number>();

  constructor(
    readonly model: string,
    readonly variant: string,
  ) {}

  observe(s: ObservedRequest): void {
    const h = this.histograms;
    h.request_queue_time_seconds.observe(s.queue);
    if (s.ttft !== null) h.time_to_first_token_seconds.observe(s.ttft);
    for (const gap of s.itl) h.inter_token_latency_seconds.observe(gap);
    if (s.ttft !== null && s.completionTokens > 1) h.request_time_per_output_token_seconds.observe((s.e2e - s.ttft) / (s.completionTokens - 1));
    h.e2e_request_latency_seconds.observe(s.e2e);
    h.request_prompt_tokens.observe(s.promptTokens);
    h.request_generation_tokens.observe(s.completionTokens);
    this.promptTokens += s.promptTokens;
    this.generationTokens += s.completionTokens;
    const reason = s.finishReason ?? 'stop';
    this.finished.set(reason, (this.finished.get(reason) ?? 0) + 1);
  }
}

/** Requests running and waiting on one variant now. */
export interface VariantLoad {
  model: string;
  variant: string;
  running: number;
  waiting: number;
}

/** What {@link renderPrometheus} renders. */
export interface PrometheusInput {
  series: Iterable<Series>;
  loads?: Iterable<VariantLoad>;
  /** HTTP status -> responses with that (error) status. */
  errors?: ReadonlyMap<number, number>;
  /** Keeps only the series and gauges of models it accepts (e.g. a key's own models). */
  include?: (model: string) => boolean;
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** `model` stays beside vLLM's `model_name` for dashboards made before it. */
const labels = (model: string, variant: string) => `model_name="${esc(model)}",model="${esc(model)}",variant="${esc(variant)}"`;

/**
 * Prometheus text exposition (format 0.0.4).
 * @example renderPrometheus({ series: store.allSeries(), loads, include: (m) => visible.has(m) })
 */
export function renderPrometheus(input: PrometheusInput): string {
  const keep = input.include ?? (() => true);
  const series = [...input.series].filter((s) => keep(s.model));
  const loads = [...(input.loads ?? [])].filter((l) => keep(l.model));
  const lines: string[] = [];
  const family = (name: string, type: string, help: string) => lines.push(`# HELP ${PREFIX}${name} ${help}`, `# TYPE ${PREFIX}${name} ${type}`);

  family('num_requests_running', 'gauge', 'Requests running on the variant now.');
  for (const l of loads) lines.push(`${PREFIX}num_requests_running{${labels(l.model, l.variant)}} ${l.running}`);
  family('num_requests_waiting', 'gauge', 'Requests waiting in the variant queue now.');
  for (const l of loads) lines.push(`${PREFIX}num_requests_waiting{${labels(l.model, l.variant)}} ${l.waiting}`);

  for (const name of Object.keys(HISTOGRAMS) as HistogramName[]) {
    family(name, 'histogram', HISTOGRAMS[name].help);
    for (const s of series) {
      const h = s.histograms[name];
      const l = labels(s.model, s.variant);
      h.bounds.forEach((b, i) => lines.push(`${PREFIX}${name}_bucket{${l},le="${b}"} ${h.counts[i]}`));
      lines.push(`${PREFIX}${name}_bucket{${l},le="+Inf"} ${h.count}`, `${PREFIX}${name}_sum{${l}} ${h.sum}`, `${PREFIX}${name}_count{${l}} ${h.count}`);
    }
  }
  family('prompt_tokens_total', 'counter', 'Prompt tokens processed.');
  for (const s of series) lines.push(`${PREFIX}prompt_tokens_total{${labels(s.model, s.variant)}} ${s.promptTokens}`);
  family('generation_tokens_total', 'counter', 'Tokens generated.');
  for (const s of series) lines.push(`${PREFIX}generation_tokens_total{${labels(s.model, s.variant)}} ${s.generationTokens}`);
  family('request_success_total', 'counter', 'Requests finished, by finished_reason.');
  for (const s of series) for (const [reason, n] of s.finished) lines.push(`${PREFIX}request_success_total{${labels(s.model, s.variant)},finished_reason="${esc(reason)}"} ${n}`);
  // errors are counted at the HTTP edge, often before a model is known: not filtered by model
  if (input.errors) {
    family('request_errors_total', 'counter', 'Responses with an error status, by status.');
    for (const [status, n] of [...input.errors].sort((a, b) => a[0] - b[0])) lines.push(`${PREFIX}request_errors_total{status="${status}"} ${n}`);
  }
  return lines.join('\n') + '\n';
}
