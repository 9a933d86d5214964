/**
 * @module The worker's side of the worker API: claim, heartbeat/progress, complete and fail over HTTP,
 * with the worker token as a bearer token.
 */
import { FlatgateError } from '../errors.ts';
import type { CompressionParams } from './params.ts';
import type { VariantResult } from './run-job.ts';

/** A job as the gateway hands it to a worker. */
export interface ClaimedJob {
  id: string;
  model_id: string;
  attempts: number;
  params: CompressionParams;
  source: { bucket: string; key: string };
}

/** The gateway answered a worker call with an error. */
export class GatewayError extends FlatgateError {
  constructor(
    readonly httpStatus: number,
    message: string,
    code: string,
  ) {
    super(`gateway answered ${httpStatus}: ${message}`, code, 'server_error');
  }
}

/**
 * Calls the worker endpoints of `gatewayUrl`.
 * @example const gw = new GatewayClient('http://127.0.0.1:8080', token); const c = await gw.claim('w1');
 */
export class GatewayClient {
  constructor(
    readonly gatewayUrl: string,
    private readonly token: string,
  ) {}

  private async call<T>(path: string, body: unknown): Promise<T | null> {
    const res = await fetch(new URL(path, this.gatewayUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status === 204) return null;
    const json = (await res.json().catch(() => ({}))) as { error?: { message?: string; code?: string } };
    if (!res.ok) throw new GatewayError(res.status, json.error?.message ?? res.statusText, json.error?.code ?? 'gateway_error');
    return json as T;
  }

  /** The next job and its lease, or null when the queue is empty. */
  claim(workerId: string): Promise<{ job: ClaimedJob; lease: string; lease_ms: number } | null> {
    return this.call('/v1/worker/claim', { worker_id: workerId });
  }

  /** Extends the lease and reports progress; throws GatewayError 409 when the lease is lost. */
  async heartbeat(jobId: string, lease: string, stage?: string, progress?: number): Promise<void> {
    await this.call(`/v1/worker/jobs/${jobId}/heartbeat`, { lease, stage, progress });
  }

  /** Reports the variants and finishes the job. */
  async complete(jobId: string, lease: string, variants: VariantResult[]): Promise<void> {
    await this.call(`/v1/worker/jobs/${jobId}/complete`, { lease, variants });
  }

  /** Reports a failed attempt. */
  async fail(jobId: string, lease: string, error: string, retryable: boolean): Promise<{ status: 'queued' | 'failed' } | null> {
    return this.call(`/v1/worker/jobs/${jobId}/fail`, { lease, error, retryable });
  }
}
