import { describe, expect, it } from 'vitest';
import { promote, type PromotionCandidate } from './promotion.ts';

const v = (id: string, status: 'recommended' | 'acceptable' | 'degraded' | 'collapsed' | null, params: number, ppl: number): PromotionCandidate => ({
  id, method: status === null ? 'original' : 'x', params, ppl, verdict: status === null ? null : { status, reasons: [`${id} reason`] },
});

describe('promote', () => {
  it('prefers recommended, then fewer parameters, then lower perplexity, and shadows the original', () => {
    const family = [v('m', null, 100, 9), v('m:a', 'acceptable', 60, 9.5), v('m:b', 'recommended', 80, 9.8), v('m:c', 'recommended', 70, 9.9), v('m:d', 'collapsed', 50, 30)];
    const p = promote(family, 0.1);
    expect(p).toMatchObject({ chosen: 'm:c', shadowRate: 0.1, arms: [{ variant: 'm:c', weight: 1 }, { variant: 'm', weight: 0 }] });
    expect(p.reasons[0]).toBe('m:c is recommended and the best of 3 acceptable variant(s): m:c reason');
    expect(p.reasons).toContain('m:d is collapsed: m:d reason');
    expect(promote([v('m', null, 100, 9), v('m:a', 'acceptable', 60, 9.5), v('m:e', 'acceptable', 60, 9.2)]).chosen).toBe('m:e');
  });

  it('keeps all traffic on the original when nothing is acceptable, or there is nothing to promote', () => {
    expect(promote([v('m', null, 100, 9), v('m:d', 'collapsed', 50, 30), v('m:g', 'degraded', 50, 11)])).toMatchObject({
      chosen: 'm', shadowRate: 0, arms: [{ variant: 'm', weight: 1 }], reasons: ['no variant is acceptable: all traffic stays on the original', 'm:d is collapsed: m:d reason', 'm:g is degraded: m:g reason'],
    });
    expect(promote([v('m', null, 100, 9)]).reasons[0]).toMatch(/no compressed variant/);
  });
});
