/**
 * @module Queries on `request_metrics`: one row per served request, so that latency can be analysed
 * across gateways and restarts (each gateway also keeps its recent window in memory).
 */
import type { Db } from '../client.ts';
import { requestMetrics } from '../schema.ts';

/** A served request's timings, in seconds as the serving layer records them. */
export interface RequestTimings {
  model: string;
  variant: string;
  at: number;
  queue: number;
  ttft: number | null;
  e2e: number;
  promptTokens: number;
  completionTokens: number;
}

export async function insertRequestMetric(db: Db, s: RequestTimings, endpoint = 'completion'): Promise<void> {
  await db.insert(requestMetrics).values({
    id: crypto.randomUUID(),
    variantId: s.variant,
    modelId: s.model,
    endpoint,
    status: 200,
    promptTokens: s.promptTokens,
    completionTokens: s.completionTokens,
    queueMs: s.queue * 1000,
    ttftMs: s.ttft === null ? null : s.ttft * 1000,
    totalMs: s.e2e * 1000,
    createdAt: s.at,
  });
}
