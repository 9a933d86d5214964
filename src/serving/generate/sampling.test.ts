import { describe, expect, it } from 'vitest';
import { argmax, createRng, logProbOf, logSoftmax, sampleToken } from './sampling.ts';

describe('sampling', () => {
  const logits = Float32Array.from([1, 3, 2, 0.5, 2.9]);

  it('greedy picks the argmax, lowest index on ties', () => {
    expect(sampleToken(logits, { temperature: 0, topP: 1, topK: 0 }, createRng(1))).toBe(1);
    expect(argmax([2, 5, 5])).toBe(1);
  });

  it('log softmax matches the closed form', () => {
    const lp = logSoftmax([0, Math.log(3)]);
    expect(lp[0]).toBeCloseTo(Math.log(1 / 4), 12);
    expect(lp[1]).toBeCloseTo(Math.log(3 / 4), 12);
  });

  it('top-k 1 is greedy at any temperature', () => {
    const rng = createRng(7);
    for (let i = 0; i < 50; i++) expect(sampleToken(logits, { temperature: 5, topP: 1, topK: 1 }, rng)).toBe(1);
  });

  it('top-p keeps the smallest nucleus', () => {
    // probs at T=1: token 1 and 4 hold ~0.66 of the mass; top-p 0.6 keeps exactly {1, 4}
    const rng = createRng(3);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) seen.add(sampleToken(logits, { temperature: 1, topP: 0.6, topK: 0 }, rng));
    expect([...seen].sort()).toEqual([1, 4]);
  });

  it('sampling frequencies follow softmax(logits / T)', () => {
    const rng = createRng(11);
    const counts = new Array(5).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sampleToken(logits, { temperature: 2, topP: 1, topK: 0 }, rng)]++;
    const p = logSoftmax(Array.from(logits, (x) => x / 2)).map(Math.exp);
    for (let i = 0; i < 5; i++) expect(Math.abs(counts[i] / n - p[i])).toBeLessThan(0.015);
  });

  it('a seed reproduces the same draws', () => {
    const draw = (seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: 20 }, () => sampleToken(logits, { temperature: 1, topP: 0.9, topK: 3 }, rng));
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });
});

describe('logProbOf', () => {
  it('equals the log-softmax entry exactly', () => {
    const row = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 1.7) * 12);
    for (const id of [0, 17, 999]) expect(logProbOf(row, id)).toBe(logSoftmax(row)[id]);
    // closed form on two equal logits: log(1/2)
    expect(logProbOf([3, 3], 1)).toBeCloseTo(Math.log(0.5), 15);
  });
});
