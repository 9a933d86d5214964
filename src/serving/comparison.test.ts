import { describe, expect, it } from 'vitest';
import { compareVariants, taskAccuracies } from './comparison.ts';
import { ModelPool } from './model-pool.ts';

describe('task accuracy in the comparison', () => {
  it('gives each accuracy its binomial standard error sqrt(p(1-p)/n)', () => {
    const t = taskAccuracies({ ppl: 3, tasks: { piqa: { acc: 0.625, acc_norm: 0.6, n: 40 }, boolq: { acc: 0.5, n: 100 }, junk: { acc: 'x', n: 3 }, empty: { acc: 0, n: 0 } } });
    expect(Object.keys(t)).toEqual(['piqa', 'boolq']);
    expect(t.piqa.acc_stderr).toBeCloseTo(0.0765466, 6); // sqrt(0.625 * 0.375 / 40)
    expect(t.piqa.acc_norm_stderr).toBeCloseTo(0.0774597, 6); // sqrt(0.6 * 0.4 / 40)
    expect(t.boolq).toEqual({ acc: 0.5, acc_stderr: 0.05, n: 100 });
    expect(taskAccuracies(null)).toEqual({});
    expect(taskAccuracies({ tasks: 'nope' })).toEqual({});
  });

  it('puts them in every variant column of the JSON', async () => {
    const pool = new ModelPool();
    const never = async () => Promise.reject(new Error('not loaded for a comparison'));
    pool.register('m', { parent: null, method: 'original', layers: 4, params: 100, evaluation: { ppl: 2, tasks: { arc_easy: { acc: 0.3, acc_norm: 0.35, n: 200 } } } }, never);
    pool.register('m:flattengpt-25', { parent: 'm', method: 'flattengpt', layers: 3, params: 80, evaluation: { ppl: 2.2, tasks: { arc_easy: { acc: 0.28, acc_norm: 0.3, n: 200 } } } }, never);
    const noTraffic = { summaries: async () => [] };
    const c = await compareVariants(pool, noTraffic, 'm', 3600);
    const byId = Object.fromEntries(c.variants.map((v) => [v.id, v.tasks]));
    expect(byId.m.arc_easy.acc_stderr).toBeCloseTo(Math.sqrt(0.21 / 200), 12);
    expect(byId['m:flattengpt-25'].arc_easy).toMatchObject({ acc: 0.28, acc_norm: 0.3, n: 200 });
    expect(byId['m:flattengpt-25'].arc_easy.acc_norm_stderr).toBeCloseTo(Math.sqrt(0.21 / 200), 12);
  });
});
