/**
 * @module What a matched-workload benchmark produces and where it is kept: the result's shape, its
 * bounds and the store interface. No imports, so the Worker (which stores results for its serving
 * containers, routes/benchmarks.ts) can use it without the serving code that runs benchmarks.
 */

/**
 * Bounds of a benchmark: of its request (routes/schemas.ts) and so of the result the benchmark
 * endpoints store (routes/benchmarks.ts), which refuse anything a benchmark could not have produced.
 */
export const BENCHMARK_LIMITS = {
  /** Requests per variant. */
  requests: 64,
  /** Requests in flight per variant. */
  concurrency: 16,
  maxTokens: 512,
  prompts: 16,
  /** Characters of one prompt. */
  promptChars: 4096,
  /** Variants in one family (a job publishes at most 16). */
  variants: 16,
  /** Characters of a served id (`name:variant`: two names of at most 64). */
  idChars: 200,
  /** JSON bytes of one stored result: the bounds above at their worst, every prompt character escaped, stay under 600 KiB. */
  resultBytes: 768 * 1024,
} as const;

/** Exact p50/p95/p99 of a sample and its size (seconds; null without values). */
export interface BenchmarkPercentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  n: number;
}

/** One variant's latency under the benchmark. */
export interface BenchmarkLatency {
  requests: number;
  completion_tokens: number;
  ttft: BenchmarkPercentiles;
  itl: BenchmarkPercentiles;
  e2e: BenchmarkPercentiles;
  /** Decode tokens per second (null without a second token). */
  tokens_per_second: number | null;
  prefill_tokens_per_second: number | null;
}

/** The ratios of a variant to the original (null where either lacks the number). */
export interface BenchmarkRatios {
  ttft_p50: number | null;
  itl_p50: number | null;
  e2e_p50: number | null;
  tokens_per_second: number | null;
  prefill_tokens_per_second: number | null;
}

/**
 * A matched-workload benchmark of a model family: what `POST /v1/models/:id/benchmark` answers and the
 * comparison shows as `matched_workload` (a type, not an interface, so it is a `Record<string, unknown>`).
 */
export type BenchmarkResult = {
  object: 'benchmark';
  /** The original's served id. */
  model: string;
  /** ISO time the benchmark finished. */
  created_at: string;
  seconds: number;
  settings: { requests: number; concurrency: number; max_tokens: number; prompts: string[]; interleaved: true };
  /** The batches in the order they ran: `<variant>×<requests>`. */
  schedule: string[];
  variants: { id: string; latency: BenchmarkLatency; ratios: BenchmarkRatios }[];
};

/** Where benchmark results are kept, the latest per model: the database, another node's endpoints, or memory. */
export interface BenchmarkStore {
  save(model: string, result: Record<string, unknown>): Promise<void>;
  latest(model: string): Promise<Record<string, unknown> | null>;
}
