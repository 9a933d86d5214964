import { describe, expect, it } from 'vitest';
import { checkParams } from './intake.ts';
import { criteriaOfParams, paramsFromQuery } from './params.ts';

describe('compression parameters of an upload', () => {
  it('search and refit default to on/auto; the verdict criteria come from query values', () => {
    const none = checkParams(paramsFromQuery({}));
    expect(none).toMatchObject({ refit_o: 'auto', plan_candidates: 6 });
    expect(criteriaOfParams(none)).toBeNull();
    const p = checkParams(paramsFromQuery({ max_ppl_ratio: '1.2', min_agreement: '0.7', refit_o: 'false', plan_candidates: '1' }));
    expect(p).toMatchObject({ refit_o: false, plan_candidates: 1 });
    expect(criteriaOfParams(p)).toEqual({ max_ppl_ratio: 1.2, min_agreement: 0.7 });
  });

  it('refuses criteria out of range with the parameter named', () => {
    expect(() => checkParams(paramsFromQuery({ max_ppl_ratio: '0.9' }))).toThrow(/Invalid max_ppl_ratio/);
    expect(() => checkParams(paramsFromQuery({ min_agreement: '2' }))).toThrow(/Invalid min_agreement/);
    expect(() => checkParams(paramsFromQuery({ max_task_drop: 'x' }))).toThrow(/Invalid max_task_drop/);
    expect(() => checkParams(paramsFromQuery({ plan_candidates: '0' }))).toThrow(/Invalid plan_candidates/);
  });
});
