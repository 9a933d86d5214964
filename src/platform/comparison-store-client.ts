/**
 * @module The HTTP client of another node's comparison store: the `/v1/worker/summaries` and
 * `/v1/worker/benchmarks` endpoints (worker token) that a serving node without a share of the database
 * (a Cloudflare serving container) writes its request summaries and benchmark results to, and reads them
 * back from. The summary and benchmark stores are built on it (http-summary-store.ts,
 * http-benchmark-store.ts).
 */
import { FlatgateError } from '../errors.ts';

/** The comparison store could not be reached, or answered with an error (HTTP 502 to whoever waits on it). */
export class ComparisonStoreUnavailable extends FlatgateError {
  readonly status = 502;
  constructor(what: string, options?: { cause?: unknown }) {
    super(`The comparison store ${what}`, 'comparison_store_unavailable', 'server_error', null, options);
  }
}

/**
 * POSTs JSON to the endpoints under `baseUrl` (the Worker's URL) with the worker token.
 * @example const client = new ComparisonStoreClient('https://flatgate.example.workers.dev', token);
 */
export class ComparisonStoreClient {
  /** The base URL without trailing slashes. */
  readonly base: string;

  /** @param timeoutMs a call that takes longer fails (flushes wait on each other, so none may hang) */
  constructor(
    baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  /** POSTs `body` to `path`; the JSON answer, or ComparisonStoreUnavailable naming the status and the store's message. */
  async post<T>(path: string, body: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new ComparisonStoreUnavailable(`at ${this.base} could not be reached`, { cause: err });
    }
    const json = (await res.json().catch(() => null)) as (T & { error?: { message?: string } }) | null;
    if (!res.ok || json === null) throw new ComparisonStoreUnavailable(`at ${this.base} answered ${path} with ${res.status}: ${json?.error?.message ?? 'no JSON'}`);
    return json;
  }
}
