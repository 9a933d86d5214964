import { describe, expect, it } from 'vitest';
import { InvalidRequest } from '../errors.ts';
import { scoringWindows } from './score.ts';

describe('scoringWindows', () => {
  it('cuts consecutive windows of seq tokens, BOS first, batching only windows of equal length', () => {
    const ids = Array.from({ length: 11 }, (_, i) => 10 + i);
    const batches = scoringWindows(ids, { seq: 3, bos: 1, batch: 2, context: 8 });
    expect(batches.map((b) => b.windows)).toEqual([
      [[10, 11, 12], [13, 14, 15]],
      [[16, 17, 18]],
      [[19, 20]],
    ]);
    expect(batches.map((b) => b.len)).toEqual([3, 3, 2]);
    expect(batches[0].ids).toEqual([1, 10, 11, 12, 1, 13, 14, 15]);
    expect(batches[2].ids).toEqual([1, 19, 20]);
    expect(batches.map((b) => [b.done, b.total])).toEqual([[2, 4], [3, 4], [4, 4]]);
    expect(batches.flatMap((b) => b.windows.flat())).toEqual(ids);
  });

  it('batches four windows by default and none for an empty text', () => {
    const batches = scoringWindows(Array.from({ length: 10 }, (_, i) => i), { seq: 2, bos: 1, context: 3 });
    expect(batches.map((b) => b.windows.length)).toEqual([4, 1]);
    expect(scoringWindows([], { seq: 2, bos: 1, context: 3 })).toEqual([]);
  });

  it('rejects a window that does not fit the context with BOS', () => {
    expect(() => scoringWindows([5, 6], { seq: 3, bos: 1, context: 3 })).toThrow(InvalidRequest);
    expect(() => scoringWindows([5, 6], { seq: 0, bos: 1, context: 3 })).toThrow(InvalidRequest);
    expect(() => scoringWindows([5, 6], { seq: 1.5, bos: 1, context: 3 })).toThrow(InvalidRequest);
  });
});
