import { describe, expect, it } from 'vitest';
import { complementOf, topK } from './topk.ts';

describe('topK', () => {
  it('returns the k best indices in ascending order', () => {
    expect(topK([0.1, 0.9, 0.3, 0.7], 2)).toEqual([1, 3]);
    expect(topK(Float64Array.of(5, 4, 3, 2, 1), 3)).toEqual([0, 1, 2]);
    expect(topK([1, 2, 3], 0)).toEqual([]);
    expect(topK([1, 2, 3], 3)).toEqual([0, 1, 2]);
  });
  it('breaks ties by the lowest index and ranks NaN last', () => {
    expect(topK([0.5, 0.9, 0.5, 0.5], 2)).toEqual([0, 1]);
    expect(topK([0.5, 0.5, 0.5, 0.5], 3)).toEqual([0, 1, 2]);
    expect(topK([NaN, -Infinity, 2, NaN], 3)).toEqual([0, 1, 2]);
    expect(topK([NaN, -Infinity, 2], 2)).toEqual([1, 2]);
  });
  it('rejects a bad k', () => {
    expect(() => topK([1, 2], 3)).toThrow(RangeError);
    expect(() => topK([1, 2], -1)).toThrow(RangeError);
    expect(() => topK([1, 2], 1.5)).toThrow(RangeError);
  });
  it('complementOf lists the rest', () => {
    expect(complementOf([3, 0], 5)).toEqual([1, 2, 4]);
  });
});
