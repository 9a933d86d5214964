/**
 * @module The benchmark store of a serving node that has no share of the database: the Cloudflare serving
 * containers save the matched-workload benchmarks they run through the Worker's `/v1/worker/benchmarks`
 * endpoints (worker token) into D1, and every container's comparison reads the latest back from there.
 */
import type { BenchmarkStore } from '../serving/benchmark-result.ts';
import { ComparisonStoreClient } from './comparison-store-client.ts';

/**
 * Calls the benchmark endpoints at `baseUrl` (the Worker's URL) with `token` (ComparisonStoreUnavailable when it cannot).
 * @example const benchmarks = new HttpBenchmarkStore('https://flatgate.example.workers.dev', token);
 */
export class HttpBenchmarkStore implements BenchmarkStore {
  private readonly client: ComparisonStoreClient;

  constructor(baseUrl: string, token: string, timeoutMs?: number) {
    this.client = new ComparisonStoreClient(baseUrl, token, timeoutMs);
  }

  /** Saves `result`, a runBenchmark result: the store files it under the result's own `model` (the original's id, which is `model`). */
  async save(_model: string, result: Record<string, unknown>): Promise<void> {
    await this.client.post('/v1/worker/benchmarks', result);
  }

  async latest(model: string): Promise<Record<string, unknown> | null> {
    return (await this.client.post<{ result: Record<string, unknown> | null }>('/v1/worker/benchmarks/latest', { model })).result;
  }
}
