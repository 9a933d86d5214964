import { describe, expect, it } from 'vitest';
import { groupDetailsJson, reportForDatabase, type CompressionReport } from './report.ts';

describe('reportForDatabase', () => {
  it('drops the per-channel arrays of a 1B-class report (over a megabyte) and keeps the rest', () => {
    // six flattened TinyLlama-1.1B groups: 2 x 5632 channel scores and 5632 kept channels each
    const groups = Array.from({ length: 6 }, (_, g) => ({
      first: 2 * g, last: 2 * g + 1, similarity: 0.9, seconds: 30,
      heads: { scores: Array.from({ length: 64 }, (_, i) => i / 64), groupScores: [1, 2, 3, 4, 5, 6, 7, 8], keptKvGroups: [0, 2, 4, 6] },
      channels: { scoring: 'leverage' as const, scores: Array.from({ length: 11264 }, (_, i) => Math.sin(i) / 3 + 0.5), kept: Array.from({ length: 5632 }, (_, i) => 2 * i), lambda: 0.01, compensated: true },
    }));
    const report = { method: 'flattengpt', layers_before: 22, layers_after: 16, group_details: groupDetailsJson(groups), notes: [] } as unknown as CompressionReport;
    expect(JSON.stringify(report).length).toBeGreaterThan(1 << 20);
    const kept = reportForDatabase(report);
    expect(JSON.stringify(kept).length).toBeLessThan(16 << 10);
    expect(kept.layers_after).toBe(16);
    expect(kept.group_details[3]).toEqual({
      first: 6, last: 7, similarity: 0.9, seconds: 30, head_scores: groups[3].heads.scores, kv_group_scores: [1, 2, 3, 4, 5, 6, 7, 8], kept_kv_groups: [0, 2, 4, 6],
      channel_scoring: 'leverage', lambda: 0.01, compensated: true, kept_channel_count: 5632,
    });
  });
});
