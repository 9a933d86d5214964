import { describe, expect, it } from 'vitest';
import { createRng } from '../../serving/generate/sampling.ts';
import { accumulateGram } from './gram.ts';

describe('accumulateGram', () => {
  it('adds X^T X across batches (float32 and float64 inputs), crossing the row block size', () => {
    const rand = createRng(4);
    const n = 300;
    const d = 7;
    const X = Float32Array.from({ length: n * d }, () => rand() * 2 - 1);
    const C = new Float64Array(d * d);
    accumulateGram(C, X.subarray(0, 130 * d), 130, d);
    accumulateGram(C, Float64Array.from(X.subarray(130 * d)), n - 130, d);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let r = 0; r < n; r++) s += X[r * d + i] * X[r * d + j];
        expect(C[i * d + j]).toBeCloseTo(s, 11);
        expect(C[i * d + j]).toBe(C[j * d + i]);
      }
  });
  it('matches a closed form and checks shapes', () => {
    const C = new Float64Array(4);
    accumulateGram(C, [1, 2, 3, 4], 2, 2);
    expect(Array.from(C)).toEqual([10, 14, 14, 20]);
    expect(() => accumulateGram(C, [1, 2, 3], 2, 2)).toThrow(RangeError);
  });
});
