import { describe, expect, it } from 'vitest';
import { DEFAULT_CRITERIA, resolveCriteria, verdictOf } from './verdict.ts';

const original = { ppl: 9.05, tasks: { piqa: { acc: 0.62, n: 500 }, arc_easy: { acc: 0.4, n: 500 } }, agreement: {}, speed: { tokens_per_s: 1000 } };

describe('verdictOf', () => {
  it('calls a variant collapsed when its perplexity more than doubles, whatever its agreement, and says why first', () => {
    const v = verdictOf({ ppl: 19.7, tasks: {}, agreement: { top1: 0.71 }, speed: { tokens_per_s: 1400 } }, original);
    expect(v.status).toBe('collapsed');
    expect(v.reasons[0]).toBe("perplexity 19.70 is 2.18x the original's 9.05 (more than 2x)");
    expect(v.reasons[1]).toMatch(/71.0% of the time \(required: 80.0%\)/);
  });

  it('calls a variant collapsed when top-1 agreement is under one half, or a task falls to chance where the original is above it', () => {
    expect(verdictOf({ ppl: 9.5, agreement: { top1: 0.42 } }, original)).toMatchObject({ status: 'collapsed', reasons: [expect.stringMatching(/42.0% of the time \(under 50%\)/)] });
    const chance = verdictOf({ ppl: 9.5, agreement: { top1: 0.9 }, tasks: { piqa: { acc: 0.51, n: 500 }, arc_easy: { acc: 0.39, n: 500 } } }, original);
    expect(chance).toMatchObject({ status: 'collapsed', reasons: ["piqa accuracy 51.0% is at chance (50.0%) where the original's is 62.0%"] });
  });

  it('calls a variant acceptable within the default criteria (ppl ratio <= 1.10, agreement >= 0.80), recommended only when measured faster', () => {
    const ev = { ppl: 9.9, agreement: { top1: 0.83 }, tasks: { piqa: { acc: 0.6, n: 500 } } };
    expect(verdictOf(ev, original)).toEqual({
      status: 'acceptable',
      reasons: ['within the criteria; no measured speed of both, so not recommended', "perplexity 9.90 is 1.09x the original's 9.05 (allowed: 1.10x)", "it picks the original's next token 83.0% of the time (required: 80.0%)"],
    });
    const slow = verdictOf({ ...ev, speed: { tokens_per_s: 1020 } }, original);
    expect(slow.status).toBe('acceptable');
    expect(slow.reasons[0]).toMatch(/not measurably faster: .* \(1.02x\)/);
    const fast = verdictOf({ ...ev, speed: { tokens_per_s: 1300 } }, original);
    expect(fast.status).toBe('recommended');
    expect(fast.reasons[0]).toMatch(/faster: .*1300 tokens\/s against the original's 1000 \(1.30x\)/);
  });

  it('calls a variant degraded outside the criteria or without the evidence, and applies per-model criteria', () => {
    const ev = { ppl: 10.5, agreement: { top1: 0.83 }, tasks: { piqa: { acc: 0.55, n: 500 } } };
    const out = verdictOf(ev, original);
    expect(out.status).toBe('degraded');
    expect(out.reasons[0]).toMatch(/1.16x .* \(allowed: 1.10x\)/);
    expect(verdictOf(ev, original, resolveCriteria({ max_ppl_ratio: 1.2 })).status).toBe('acceptable');
    const drop = verdictOf(ev, original, resolveCriteria({ max_ppl_ratio: 1.2, max_task_drop: 0.05 }));
    expect(drop.status).toBe('degraded');
    expect(drop.reasons[0]).toMatch(/piqa accuracy 55.0% vs the original's 62.0% \(a drop of 7.0%; allowed: 5.0%\)/);
    expect(verdictOf({ ppl: 9.1 }, original)).toMatchObject({ status: 'degraded', reasons: ['its agreement with the original was not measured', expect.any(String)] });
    expect(verdictOf(null, null).status).toBe('degraded');
    expect(resolveCriteria(null)).toEqual(DEFAULT_CRITERIA);
  });
});
