/**
 * Issue 12 over HTTP on a real gateway (libsql file DB, embedded S3, onnxruntime): verdicts in
 * GET /v1/models/:id, criteria set by PUT .../criteria, auto-promotion by PUT .../route, what
 * GET .../route says, and that a collapsed variant is served through a route only when forced.
 * The variants' evaluations are written into their rows (the job's output) so that one is clearly
 * recommended and one collapsed; the models themselves are real (stories260K and a block-removed copy).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAbRoutes } from '../../src/db/queries/ab-routes.ts';
import { findModelByName, insertModel } from '../../src/db/queries/models.ts';
import { upsertVariant, variantsOfModel } from '../../src/db/queries/variants.ts';
import { publishedVariant } from '../../src/jobs/published-variant.ts';
import { loadModel } from '../../src/model/load.ts';
import { countParams } from '../../src/model/types.ts';
import { startTestGateway, type TestGateway } from '../pipeline/gateway.ts';
import { STORIES, withoutBlock } from './gateway-server.ts';

let gw: TestGateway;
const NAME = 'promo';
const GOOD = `${NAME}:shortgpt-20`;
const BAD = `${NAME}:flattengpt-20`;

const put = (path: string, body: unknown) => fetch(`${gw.url}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const json = async (r: Response | Promise<Response>) => (await r).json() as Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  gw = await startTestGateway();
  const original = await loadModel(STORIES);
  const small = withoutBlock(original, 2);
  const { db } = gw.platform;
  await insertModel(db, { id: 'mdl_promo', name: NAME, status: 'ready', sourceBucket: 'b', sourceKey: 'k', createdAt: Date.now() });
  const rows = [
    { name: 'original', method: 'original', loaded: original, evaluation: { ppl: 6.4, tasks: {}, agreement: {}, speed: { tokens_per_s: 1000, tokens: 2000, seconds: 2 } } },
    { name: 'shortgpt-20', method: 'shortgpt', loaded: small, evaluation: { ppl: 6.7, tasks: {}, agreement: { top1: 0.9, kl: 0.05 }, speed: { tokens_per_s: 1250, tokens: 2000, seconds: 1.6 } } },
    { name: 'flattengpt-20', method: 'flattengpt', loaded: small, evaluation: { ppl: 13.9, tasks: {}, agreement: { top1: 0.55, kl: 0.9 }, speed: { tokens_per_s: 1250, tokens: 2000, seconds: 1.6 } } },
  ];
  for (const [i, r] of rows.entries()) {
    const id = r.name === 'original' ? NAME : `${NAME}:${r.name}`;
    const m = r.loaded.model;
    await upsertVariant(db, { id, modelId: 'mdl_promo', name: r.name, method: r.method, layers: m.layers.length, params: countParams(m), bytes: 1, status: 'ready', prefix: 'p', evaluation: r.evaluation, createdAt: Date.now() + i });
  }
  // the gateway serves what the rows say (as serveVariants would), with the real weights
  const model = (await findModelByName(db, NAME))!;
  for (const v of await variantsOfModel(db, model.id)) {
    const { id, modelId, variant, ...info } = publishedVariant(model, v);
    gw.pool.add(id, rows.find((r) => r.name === v.name)!.loaded, { ...info, source: `${modelId}/${variant}` });
  }
});
afterAll(async () => gw?.close());

describe('verdicts, criteria and auto-promotion over HTTP', () => {
  it('GET /v1/models/:id gives each compressed variant a verdict with reasons, none for the original', async () => {
    const m = await json(fetch(`${gw.url}/v1/models/${NAME}`));
    expect(m.criteria).toEqual({ max_ppl_ratio: 1.1, min_agreement: 0.8, max_task_drop: null });
    const by = Object.fromEntries(m.variants.map((v: { id: string }) => [v.id, v]));
    expect(by[NAME].verdict).toBeUndefined();
    expect(by[GOOD].verdict.status).toBe('recommended');
    expect(by[GOOD].verdict.reasons[0]).toMatch(/faster: .*1250 tokens\/s against the original's 1000 \(1.25x\)/);
    expect(by[BAD].verdict).toEqual({ status: 'collapsed', reasons: [expect.stringMatching(/2.17x the original's 6.40 \(more than 2x\)/), expect.stringMatching(/55.0% of the time/)] });
  });

  it('auto_promote routes the name to the best acceptable variant with a shadow share on the original; GET says what and why', async () => {
    const res = await put(`/v1/models/${NAME}/route`, { auto_promote: true });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ object: 'route', model: NAME, auto_promote: true, chosen: GOOD, shadow_rate: 0.05, arms: [{ variant: GOOD, weight: 1 }, { variant: NAME, weight: 0 }] });
    expect(body.reasons[0]).toMatch(new RegExp(`^${GOOD} is recommended`));
    expect(body.reasons.join(' ')).toMatch(new RegExp(`${BAD} is collapsed`));
    expect(await json(fetch(`${gw.url}/v1/models/${NAME}/route`))).toEqual(body);
    // stored as the route row, so every gateway restores the same split
    expect((await listAbRoutes(gw.platform.db)).find((r) => r.model === NAME)).toMatchObject({ arms: body.arms, shadowRate: 0.05 });
    for (let u = 0; u < 4; u++) {
      const r = await fetch(`${gw.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: NAME, prompt: 'Once upon a time', max_tokens: 2, user: `u${u}` }) });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-flatgate-variant')).toBe(GOOD);
    }
  });

  it('stricter criteria make no variant acceptable: auto-promotion goes back to the original', async () => {
    const c = await put(`/v1/models/${NAME}/criteria`, { max_ppl_ratio: 1.02 });
    expect(c.status).toBe(200);
    const cj = await json(c);
    expect(cj.criteria).toEqual({ max_ppl_ratio: 1.02, min_agreement: 0.8, max_task_drop: null });
    expect(cj.variants.find((v: { id: string }) => v.id === GOOD).verdict.status).toBe('degraded');
    const m = await json(fetch(`${gw.url}/v1/models/${NAME}`));
    expect(m.criteria.max_ppl_ratio).toBe(1.02);
    const body = await json(put(`/v1/models/${NAME}/route`, { auto_promote: true }));
    expect(body).toMatchObject({ chosen: NAME, arms: [{ variant: NAME, weight: 1 }], shadow_rate: 0, auto_promote: true });
    expect(body.reasons[0]).toBe('no variant is acceptable: all traffic stays on the original');
    const bad = await put(`/v1/models/${NAME}/criteria`, { max_ppl_ratio: 0.5 });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error).toMatchObject({ type: 'invalid_request_error', param: 'max_ppl_ratio' });
    expect((await put(`/v1/models/${NAME}/criteria`, { nonsense: 1 })).status).toBe(400);
  });

  it('a route naming a collapsed variant is refused unless the arm says force: true; a hand-set route is no promotion', async () => {
    const refused = await put(`/v1/models/${NAME}/route`, { arms: [{ variant: NAME, weight: 50 }, { variant: BAD, weight: 50 }] });
    expect(refused.status).toBe(400);
    expect((await json(refused)).error).toMatchObject({ param: 'arms', message: expect.stringMatching(/promo:flattengpt-20 is collapsed .* "force": true/) });
    expect((await json(fetch(`${gw.url}/v1/models/${NAME}/route`))).chosen).toBe(NAME);
    const forced = await put(`/v1/models/${NAME}/route`, { arms: [{ variant: NAME, weight: 50 }, { variant: BAD, weight: 50, force: true }] });
    expect(forced.status).toBe(200);
    const got = await json(fetch(`${gw.url}/v1/models/${NAME}/route`));
    expect(got).toEqual({ object: 'route', model: NAME, arms: [{ variant: NAME, weight: 50 }, { variant: BAD, weight: 50 }], shadow_rate: 0, auto_promote: false });
    expect((await put(`/v1/models/${NAME}/route`, { auto_promote: true, arms: [{ variant: NAME, weight: 1 }] })).status).toBe(400);
    expect((await put(`/v1/models/${NAME}/route`, {})).status).toBe(400);
  });
});
