import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { MetricsStore } from '../../serving/metrics.ts';
import { openLibsql } from '../open-libsql.ts';
import { requestMetrics } from '../schema.ts';
import { insertRequestMetric } from './request-metrics.ts';

it('every recorded request lands in request_metrics, in milliseconds', async () => {
  const { db, close } = await openLibsql(`file:${join(await mkdtemp(join(tmpdir(), 'fg-metrics-')), 'db.sqlite')}`);
  try {
    const writes: Promise<void>[] = [];
    const metrics = new MetricsStore(100, (s) => writes.push(insertRequestMetric(db, s)));
    metrics.record({ model: 'm', variant: 'm:flattengpt-20', at: 1000, queue: 0.5, ttft: 0.25, itl: [0.01], e2e: 2, promptTokens: 3, completionTokens: 4 });
    metrics.record({ model: 'm', variant: 'm', at: 2000, queue: 0, ttft: null, itl: [], e2e: 0.1, promptTokens: 9, completionTokens: 0 });
    await Promise.all(writes);
    const rows = await db.select().from(requestMetrics).orderBy(requestMetrics.createdAt);
    expect(rows.map((r) => [r.variantId, r.modelId, r.queueMs, r.ttftMs, r.totalMs, r.promptTokens, r.completionTokens])).toEqual([
      ['m:flattengpt-20', 'm', 500, 250, 2000, 3, 4],
      ['m', 'm', 0, null, 100, 9, 0],
    ]);
    expect(metrics.window('m:flattengpt-20')).toHaveLength(1);
  } finally {
    close();
  }
});
