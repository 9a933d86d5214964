import { describe, expect, it } from 'vitest';
import { candidatePlans, planLabel } from './plan-candidates.ts';
import { planFlatten } from './plan.ts';

/** S with S[i][i] = 1 and S[i][j] = S[j][i] = f(i, j) for i < j. */
function sim(L: number, f: (i: number, j: number) => number): number[][] {
  return Array.from({ length: L }, (_, i) => Array.from({ length: L }, (_, j) => (i === j ? 1 : f(Math.min(i, j), Math.max(i, j)))));
}

// stories12L's adjacent similarities at 32 calibration samples (issue 12): [8,9] .9613 vs [3,4] .9612 vs [7,8] .9608
const ADJ = [0.5028, 0.859, 0.9553, 0.9612, 0.9726, 0.9806, 0.9746, 0.9608, 0.9613, 0.9468, 0.9523];
const S12 = sim(12, (i, j) => (j === i + 1 ? ADJ[i] : j === i + 2 ? 0.9 : 0.5));

describe('candidatePlans', () => {
  it('puts the greedy plan first and adds the plan that takes the near tie', () => {
    const plans = candidatePlans(S12, 3);
    expect(plans[0].groups).toEqual(planFlatten(S12, 3).groups);
    expect(plans[0].regret).toBe(0);
    expect(plans.map((p) => planLabel(p.groups))).toEqual(['3-4,5-6,8-9', '3-4,5-6,7-8']);
    expect(plans[1].regret).toBeCloseTo(0.9613 - 0.9608, 10);
  });

  it('takes nothing beyond the margin and never more than the budget, without duplicates', () => {
    expect(candidatePlans(S12, 3, { margin: 0 }).map((p) => planLabel(p.groups))).toEqual(['3-4,5-6,8-9']);
    const flat = sim(12, (i, j) => (j === i + 1 ? 0.9 : 0.2));
    const wide = candidatePlans(flat, 3, { margin: 1, budget: 5 });
    expect(wide).toHaveLength(5);
    expect(new Set(wide.map((p) => planLabel(p.groups))).size).toBe(5);
    expect(wide.every((p, i) => i === 0 || p.regret >= wide[i - 1].regret)).toBe(true);
    expect(candidatePlans(flat, 3, { budget: 1 })).toHaveLength(1);
    expect(() => candidatePlans(flat, 3, { budget: 0 })).toThrow(/budget/);
  });
});
