import { describe, expect, it } from 'vitest';
import { SimilarityAccumulator } from './cosine.ts';

describe('SimilarityAccumulator', () => {
  it('averages cosines over tokens and batches', () => {
    const acc = new SimilarityAccumulator(3);
    // token 0: layer vectors [1,0], [1,1], [0,2]; token 1: [1,0], [-1,0], [3,4]
    acc.add([Float32Array.of(1, 0), Float32Array.of(1, 1), Float32Array.of(0, 2)], 1, 2);
    acc.add([Float32Array.of(1, 0), Float32Array.of(-1, 0), Float32Array.of(3, 4)], 1, 2);
    const S = acc.matrix();
    const r = Math.SQRT1_2;
    expect(acc.count).toBe(2);
    expect(S[0][0]).toBeCloseTo(1, 15);
    expect(S[1][1]).toBeCloseTo(1, 15);
    expect(S[0][1]).toBeCloseTo((r + -1) / 2, 15);
    expect(S[0][2]).toBeCloseTo((0 + 0.6) / 2, 15);
    expect(S[1][2]).toBeCloseTo((r + -0.6) / 2, 15);
    expect(S[2][1]).toBe(S[1][2]);
  });
  it('one batch of several tokens equals token-by-token batches; zero vectors count as cosine 0', () => {
    const a = new SimilarityAccumulator(2);
    const b = new SimilarityAccumulator(2);
    const h0 = Float32Array.of(1, 2, 0, 0, 3, 1);
    const h1 = Float32Array.of(2, 1, 5, 5, 3, 1);
    a.add([h0, h1], 3, 2);
    for (let t = 0; t < 3; t++) b.add([h0.subarray(2 * t, 2 * t + 2), h1.subarray(2 * t, 2 * t + 2)], 1, 2);
    expect(a.matrix()).toEqual(b.matrix());
    expect(a.matrix()[0][1]).toBeCloseTo((0.8 + 0 + 1) / 3, 12);
    expect(() => new SimilarityAccumulator(2).matrix()).toThrow(RangeError);
    expect(() => a.add([h0], 3, 2)).toThrow(RangeError);
  });
});
