import { describe, expect, it } from 'vitest';
import type { Matrix } from '../../model/types.ts';
import { attentionHeads64, matVec64 } from '../../../test/reference/forward64.ts';
import { createRng } from '../../serving/generate/sampling.ts';
import { randomLayer, randomVector, testConfig } from '../../../test/fixtures/random-model.ts';
import { groupScores, HeadScoreAccumulator, outputRowNorms } from './head-scores.ts';

describe('head scores', () => {
  it('outputRowNorms are the L2 norms of the columns of o_proj', () => {
    const o: Matrix = { rows: 2, cols: 4, data: Float32Array.of(3, 0, 1, 2, 4, 1, 0, 0) };
    expect(Array.from(outputRowNorms(o, 2, 2))).toEqual([5, 1, 1, 2]);
  });

  it('f_i is the closed form mean_t ||Z_i,t * r_i|| and equals ||Z_i Wo_i|| for orthogonal rows', () => {
    // D = 4, two heads of dh = 2; columns of o are orthogonal with norms 2, 3, 1, 0.5
    const o: Matrix = { rows: 4, cols: 4, data: Float32Array.of(2, 0, 0, 0, 0, 0, 1, 0, 0, 3, 0, 0, 0, 0, 0, 0.5) };
    const Z = Float64Array.of(1, 1, 2, -2, /* t1 */ 0, 2, 4, 0);
    const acc = new HeadScoreAccumulator(o, 2, 2);
    acc.add(Z, 2);
    const f = acc.scores();
    expect(f[0]).toBeCloseTo((Math.hypot(2, 3) + 6) / 2, 14);
    expect(f[1]).toBeCloseTo((Math.hypot(2, 1) + 4) / 2, 14);
    const contribution = (t: number, h: number) => {
      const z = new Float64Array(4);
      z.set(Z.subarray(t * 4 + h * 2, t * 4 + h * 2 + 2), h * 2);
      return Math.hypot(...matVec64(o, z));
    };
    expect(f[0]).toBeCloseTo((contribution(0, 0) + contribution(1, 0)) / 2, 12);
    expect(f[1]).toBeCloseTo((contribution(0, 1) + contribution(1, 1)) / 2, 12);
    expect(Array.from(groupScores(Float64Array.of(1, 2, 3, 4, 5, 6), 3))).toEqual([6, 15]);
  });

  it('accumulating batches equals one batch (real attention outputs)', () => {
    const config = testConfig();
    const rand = createRng(60);
    const layer = randomLayer(config, rand);
    const U = Array.from({ length: 9 }, () => randomVector(config.hiddenSize, rand));
    const Z = attentionHeads64(layer, config, U);
    const flat = Float64Array.from(Z.flatMap((z) => Array.from(z)));
    const one = new HeadScoreAccumulator(layer.o, config.numHeads, config.headDim);
    one.add(flat, 9);
    const two = new HeadScoreAccumulator(layer.o, config.numHeads, config.headDim);
    const w = config.numHeads * config.headDim;
    two.add(Float32Array.from(flat.subarray(0, 4 * w)), 4);
    two.add(flat.subarray(4 * w), 5);
    expect(two.count).toBe(9);
    const a = one.scores();
    const b = two.scores();
    a.forEach((x, i) => expect(b[i]).toBeCloseTo(x, 6));
    expect(() => one.add(flat, 8)).toThrow(RangeError);
    expect(() => new HeadScoreAccumulator(layer.o, 3, 4)).toThrow(RangeError);
  });
});
