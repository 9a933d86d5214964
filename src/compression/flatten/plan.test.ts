import { describe, expect, it } from 'vitest';
import { InvalidRequest } from '../../errors.ts';
import { mergesForTarget, planFlatten, reachedParamRatio } from './plan.ts';

/** S with S[i][i] = 1 and S[i][j] = S[j][i] = f(i, j) for i < j. */
function sim(L: number, f: (i: number, j: number) => number): number[][] {
  return Array.from({ length: L }, (_, i) => Array.from({ length: L }, (_, j) => (i === j ? 1 : f(Math.min(i, j), Math.max(i, j)))));
}

describe('planFlatten', () => {
  it('merges the most similar adjacent pair and keeps groups covering all layers', () => {
    const S = sim(6, (i, j) => (i === 2 && j === 3 ? 0.95 : 0.9 - 0.1 * (j - i)));
    const plan = planFlatten(S, 1);
    expect(plan.groups).toEqual([[0, 0], [1, 1], [2, 3], [4, 4], [5, 5]]);
    expect(plan.merges).toEqual([{ left: [2, 2], right: [3, 3], similarity: 0.95 }]);
  });

  it('grows a group to 3 layers when S[a][d] of the span stays the best (3-block chain)', () => {
    // pairs: (1,2) .97, (2,3) .9, (3,4) .8; spans: S[1][3] .96 beats S[3][4] .8
    const S = sim(6, (i, j) => ({ '1,2': 0.97, '2,3': 0.9, '3,4': 0.8, '1,3': 0.96, '2,4': 0.5, '1,4': 0.4 } as Record<string, number>)[`${i},${j}`] ?? 0.1);
    const plan = planFlatten(S, 2);
    expect(plan.groups).toEqual([[0, 0], [1, 3], [4, 4], [5, 5]]);
    expect(plan.merges.map((m) => m.similarity)).toEqual([0.97, 0.96]);
    expect(plan.merges[1]).toEqual({ left: [1, 2], right: [3, 3], similarity: 0.96 });
    const three = planFlatten(S, 3);
    expect(three.groups).toEqual([[0, 0], [1, 4], [5, 5]]);
    expect(three.merges[2].similarity).toBe(0.4);
  });

  it('uses the first layer of the left group against the last of the right group', () => {
    // after merging [2,3], the pair ([2,3],[4,4]) scores S[2][4], not S[3][4]
    const S = sim(7, (i, j) => ({ '2,3': 0.99, '3,4': 0.98, '2,4': 0.1, '4,5': 0.5 } as Record<string, number>)[`${i},${j}`] ?? 0);
    expect(planFlatten(S, 2).groups).toEqual([[0, 0], [1, 1], [2, 3], [4, 5], [6, 6]]);
  });

  it('breaks ties by the lowest index', () => {
    const S = sim(7, (i, j) => (j === i + 1 ? 0.9 : 0.2));
    expect(planFlatten(S, 1).groups[1]).toEqual([1, 2]);
    expect(planFlatten(S, 2).groups).toEqual([[0, 0], [1, 2], [3, 4], [5, 5], [6, 6]]);
  });

  it('excludes the first and last layers by default, and can include them', () => {
    const S = sim(4, (i, j) => (i === 0 && j === 1 ? 0.99 : i === 2 && j === 3 ? 0.98 : 0.5));
    expect(planFlatten(S, 1).groups).toEqual([[0, 0], [1, 2], [3, 3]]);
    expect(planFlatten(S, 1, { excludeEnds: false }).groups).toEqual([[0, 1], [2, 2], [3, 3]]);
    expect(planFlatten(S, 2, { excludeEnds: false }).groups).toEqual([[0, 1], [2, 3]]);
    expect(() => planFlatten(S, 2)).toThrow(/no further merge is possible after 1 of 2 merges/);
  });

  it('respects maxGroupSize', () => {
    const S = sim(6, (i, j) => (j - i === 1 ? 0.9 : j - i === 2 ? 0.95 : 0.1));
    expect(planFlatten(S, 2).groups).toEqual([[0, 0], [1, 3], [4, 4], [5, 5]]);
    expect(planFlatten(S, 2, { maxGroupSize: 2 }).groups).toEqual([[0, 0], [1, 2], [3, 4], [5, 5]]);
    expect(() => planFlatten(S, 3, { maxGroupSize: 2 })).toThrow(InvalidRequest);
  });

  it('stops with a clear message below minSimilarity', () => {
    const S = sim(6, (i, j) => (i === 2 && j === 3 ? 0.95 : 0.6));
    expect(planFlatten(S, 1, { minSimilarity: 0.9 }).groups).toHaveLength(5);
    let err: unknown;
    try {
      planFlatten(S, 2, { minSimilarity: 0.9 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidRequest);
    expect((err as InvalidRequest).message).toMatch(/after 1 of 2 merges.*0\.6000.*below minSimilarity 0\.9/);
    expect((err as InvalidRequest).param).toBe('minSimilarity');
  });

  it('zero merges is the identity; malformed input is rejected', () => {
    expect(planFlatten(sim(3, () => 0.5), 0).groups).toEqual([[0, 0], [1, 1], [2, 2]]);
    expect(() => planFlatten([[1, 0.5], [0.5]], 0)).toThrow(InvalidRequest);
    expect(() => planFlatten(sim(3, () => NaN), 0)).toThrow(InvalidRequest);
    expect(() => planFlatten(sim(3, () => 0.5), -1)).toThrow(InvalidRequest);
  });
});

describe('mergesForTarget', () => {
  it('from a layer count or a parameter ratio', () => {
    expect(mergesForTarget({ layers: 25 }, 32)).toBe(7);
    // LLaMA-2-7B: 6.74e9 params, 202.4e6 per block; 21% -> 7 merges
    expect(mergesForTarget({ paramRatio: 0.21, totalParams: 6.738e9, paramsPerBlock: 202.383e6 }, 32)).toBe(7);
    expect(reachedParamRatio(7, 6.738e9, 202.383e6)).toBeCloseTo(0.2103, 3);
    expect(mergesForTarget({ paramRatio: 0, totalParams: 10, paramsPerBlock: 1 }, 4)).toBe(0);
  });
  it('rejects impossible targets', () => {
    expect(() => mergesForTarget({ layers: 0 }, 4)).toThrow(InvalidRequest);
    expect(() => mergesForTarget({ layers: 5 }, 4)).toThrow(InvalidRequest);
    expect(() => mergesForTarget({ paramRatio: 1, totalParams: 10, paramsPerBlock: 1 }, 4)).toThrow(InvalidRequest);
    expect(() => mergesForTarget({ paramRatio: 0.9, totalParams: 10, paramsPerBlock: 2 }, 4)).toThrow(InvalidRequest);
  });
});
