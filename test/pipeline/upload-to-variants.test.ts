/**
 * Acceptance: a stories260K tar.gz uploaded over HTTP, and one dropped straight into the embedded bucket
 * (plus a duplicated event), each become an original and compressed variants with evaluations, run by
 * a real worker process pulling jobs over HTTP; the compressed variant generates.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findModelByName, insertModel } from '../../src/db/queries/models.ts';
import { variantsOfModel } from '../../src/db/queries/variants.ts';
import { TASK_NAMES } from '../../src/compression/eval/task-types.ts';
import { DEFAULT_TASK_LIMIT } from '../../src/jobs/params.ts';
import { publishedVariant } from '../../src/jobs/published-variant.ts';
import { loadModel } from '../../src/model/load.ts';
import { CALIB_FILE, EVAL_FILE, storiesTarGz } from './archives.ts';
import { startTestGateway, TOKEN, waitForJob, type TestGateway } from './gateway.ts';

interface ModelView {
  id: string;
  name: string;
  variants: {
    id: string; method: string; layers: number; params: number; bytes: number; status: string;
    evaluation: { ppl: number; tasks: Record<string, Score>; agreement: { top1?: number; kl?: number }; speed: { tokens_per_s: number } };
    verdict?: { status: string; reasons: string[] };
  }[];
}
type Score = { acc: number; acc_stderr: number; n: number };

let gw: TestGateway;
let archive: Buffer;

beforeAll(async () => {
  gw = await startTestGateway();
  archive = await storiesTarGz();
  gw.startWorker('w1');
});
afterAll(async () => gw?.close());

const params = `calib_samples=4&seq=64&calibration_file=${encodeURIComponent(CALIB_FILE)}&eval_file=${encodeURIComponent(EVAL_FILE)}`;

async function checkVariants(name: string): Promise<ModelView> {
  const m = (await (await fetch(`${gw.url}/v1/models/${name}`)).json()) as ModelView;
  expect(m.name).toBe(name);
  const byMethod = Object.fromEntries(m.variants.map((v) => [v.method, v]));
  expect(Object.keys(byMethod).sort()).toEqual(['flattengpt', 'original', 'shortgpt']);
  expect(byMethod.original).toMatchObject({ id: name, layers: 5, params: 260_032, status: 'ready' });
  for (const method of ['flattengpt', 'shortgpt']) {
    const v = byMethod[method];
    expect(v.id).toBe(`${name}:${method}-20`);
    expect(v.layers).toBe(4);
    expect(v.params).toBeLessThan(260_032);
    expect(v.bytes).toBeGreaterThan(0);
    expect(v.evaluation.ppl).toBeGreaterThan(1);
    expect(v.evaluation.agreement.top1).toBeGreaterThan(0);
    expect(v.evaluation.agreement.top1).toBeLessThanOrEqual(1);
    // every compressed variant is judged against the original, from what the job measured
    expect(v.evaluation.speed.tokens_per_s).toBeGreaterThan(0);
    const ratio = v.evaluation.ppl / byMethod.original.evaluation.ppl;
    expect(v.verdict!.status === 'collapsed').toBe(ratio > 2 || v.evaluation.agreement.top1! < 0.5);
    expect(v.verdict!.reasons.length).toBeGreaterThan(0);
  }
  expect(byMethod.original.verdict).toBeUndefined();
  expect(byMethod.original.evaluation.ppl).toBeLessThan(byMethod.flattengpt.evaluation.ppl);
  // the default evaluation includes every zero-shot task, on the default number of items, with its standard error
  const comparison = (await (await fetch(`${gw.url}/v1/models/${name}/comparison`)).json()) as { variants: { id: string; tasks: Record<string, Score> }[] };
  for (const v of m.variants) {
    const shown = comparison.variants.find((c) => c.id === v.id)!.tasks;
    for (const scores of [v.evaluation.tasks, shown]) {
      expect(Object.keys(scores).sort()).toEqual([...TASK_NAMES].sort());
      for (const s of Object.values(scores)) {
        expect(s.n).toBe(DEFAULT_TASK_LIMIT);
        expect(s.acc).toBeGreaterThanOrEqual(0);
        expect(s.acc_stderr).toBeCloseTo(Math.sqrt((s.acc * (1 - s.acc)) / s.n), 12);
      }
    }
  }
  return m;
}

describe('upload -> job -> variants', () => {
  it('HTTP upload of stories260K tar.gz: both variants appear, evaluated, and the compressed one generates', async () => {
    const res = await fetch(`${gw.url}/v1/uploads?name=tiny&${params}`, { method: 'POST', body: archive, headers: { 'content-type': 'application/gzip' } });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { model: { id: string; name: string }; job: { id: string; status: string } };
    expect(body.model.name).toBe('tiny');
    expect(body.job.status).toBe('queued');
    const job = await waitForJob(gw.url, body.job.id, (j) => j.status === 'done' || j.status === 'failed');
    expect(job, gw.logs.join('')).toMatchObject({ status: 'done', progress: 1, attempts: 1, error: null, model_id: body.model.id });
    await checkVariants('tiny');
    const keys = (await gw.platform.store.list(`models/${body.model.id}/`)).map((o) => o.key);
    for (const v of ['original', 'flattengpt-20', 'shortgpt-20']) {
      expect(keys).toContain(`models/${body.model.id}/${v}/manifest.json`);
      expect(keys).toContain(`models/${body.model.id}/${v}/hf/model.safetensors`);
      expect(keys).toContain(`models/${body.model.id}/${v}/onnx/model.onnx`);
      expect(keys).toContain(`models/${body.model.id}/${v}/report.json`);
    }
    expect(keys).toContain(`models/${body.model.id}/original/upload.tar`);
    expect(await gw.platform.store.list('tmp/')).toEqual([]);

    const compressed = gw.pool.get('tiny:flattengpt-20');
    expect((await compressed.loaded()).model.layers.length).toBe(4);
    const out = await fetch(`${gw.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny:flattengpt-20', prompt: 'Once upon a time', max_tokens: 12, temperature: 0 }),
    });
    expect(out.status).toBe(200);
    const completion = (await out.json()) as { choices: { text: string }[]; usage: { completion_tokens: number } };
    expect(completion.usage.completion_tokens).toBeGreaterThan(0);
    expect(completion.choices[0].text.length).toBeGreaterThan(0);

    const hf = await loadModel((await import('node:path')).join(gw.dataDir, 'cache', body.model.id, 'flattengpt-20'));
    expect(hf.model.layers.length).toBe(4);
  });

  it('a model still compressing answers 503 (not ready), not 404', async () => {
    await insertModel(gw.platform.db, { id: 'mdl_pending', name: 'still-compressing', status: 'pending', sourceBucket: 'b', sourceKey: 'k', createdAt: Date.now() });
    for (const model of ['still-compressing', 'still-compressing:flattengpt-20']) {
      const res = await fetch(`${gw.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, prompt: 'A' }) });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('model_not_ready');
    }
    const unknown = await fetch(`${gw.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'never-uploaded', prompt: 'A' }) });
    expect(unknown.status).toBe(404);
  });

  it('a second serving node told about the published variants (as the Worker tells its containers) serves them from the bucket', async () => {
    // its own database, as a serving container has: it must not sweep the shared bucket; the embedded store
    // answers only its own key pair, so the second node is given it, as a real deployment would be
    const { endpoint, bucket, accessKeyId, secretAccessKey } = gw.platform.s3;
    const other = await startTestGateway({ FLATGATE_S3_ENDPOINT: endpoint!, FLATGATE_S3_BUCKET: bucket, FLATGATE_S3_ACCESS_KEY_ID: accessKeyId, FLATGATE_S3_SECRET_ACCESS_KEY: secretAccessKey, FLATGATE_SWEEP_BUCKET: 'false' });
    try {
      const model = (await findModelByName(gw.platform.db, 'tiny'))!;
      const variants = (await variantsOfModel(gw.platform.db, model.id)).map((v) => {
        const { modelId, ...rest } = publishedVariant(model, v);
        return { ...rest, model_id: modelId };
      });
      const tell = (token: string) =>
        fetch(`${other.url}/v1/worker/serve`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ variants }) });
      expect((await tell('wrong-token')).status).toBe(401);
      const told = await tell(TOKEN);
      expect(told.status).toBe(200);
      expect(((await told.json()) as { data: string[] }).data.sort()).toEqual(['tiny', 'tiny:flattengpt-20', 'tiny:shortgpt-20']);
      const out = await fetch(`${other.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny:flattengpt-20', prompt: 'Once upon a time', max_tokens: 8, temperature: 0 }),
      });
      expect(out.status).toBe(200);
      const here = await fetch(`${gw.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny:flattengpt-20', prompt: 'Once upon a time', max_tokens: 8, temperature: 0 }),
      });
      expect(((await out.json()) as { choices: { text: string }[] }).choices[0].text).toBe(((await here.json()) as { choices: { text: string }[] }).choices[0].text);
      expect((await other.pool.get('tiny:flattengpt-20').loaded()).model.layers.length).toBe(4);
      // the family's route comes with the variants, and goes when the teller has none
      const arms = [
        { variant: 'tiny', weight: 1 },
        { variant: 'tiny:shortgpt-20', weight: 1 },
      ];
      const tellRoute = (routeArms: typeof arms) =>
        fetch(`${other.url}/v1/worker/serve`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ variants, route: { model: 'tiny', arms: routeArms, shadow_rate: 0.2 } }),
        });
      expect((await tellRoute(arms)).status).toBe(200);
      expect(await (await fetch(`${other.url}/v1/models/tiny/route`)).json()).toEqual({ object: 'route', model: 'tiny', arms, shadow_rate: 0.2, auto_promote: false });
      expect((await tellRoute([])).status).toBe(200);
      expect(((await (await fetch(`${other.url}/v1/models/tiny/route`)).json()) as { arms: unknown[] }).arms).toEqual([]);
      expect((await gw.platform.store.list(`models/${model.id}/`)).length).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
  });

  it('a direct bucket upload starts the same job through its event; a repeated event creates nothing', async () => {
    const { store } = gw.platform;
    await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: 'uploads/bucket-tiny.tar.gz', Body: archive }));
    const head = (await store.head('uploads/bucket-tiny.tar.gz'))!;
    const event = {
      Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: store.bucket }, object: { key: 'uploads/bucket-tiny.tar.gz', size: head.size, eTag: head.etag } } }],
    };
    const post = () =>
      fetch(`${gw.url}/v1/hooks/s3`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(event) });
    const first = (await (await post()).json()) as { results: { action: string; job: { id: string } }[] };
    const second = (await (await post()).json()) as { results: { action: string; job: { id: string } }[] };
    expect(first.results[0].action).toBe('duplicate');
    expect(second.results[0].action).toBe('duplicate');
    expect(second.results[0].job.id).toBe(first.results[0].job.id);
    const noAuth = await fetch(`${gw.url}/v1/hooks/s3`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
    expect(noAuth.status).toBe(401);

    const jobs = await gw.platform.db.query.jobs.findMany();
    expect(jobs.filter((j) => j.sourceKey === 'uploads/bucket-tiny.tar.gz')).toHaveLength(1);
    const job = await waitForJob(gw.url, first.results[0].job.id, (j) => j.status === 'done' || j.status === 'failed', 90_000);
    expect(job.status, gw.logs.join('')).toBe('done');
    await checkVariants('bucket-tiny');
    expect(gw.pool.has('bucket-tiny:shortgpt-20')).toBe(true);
  });

  it('a bad archive dropped in the bucket fails its job at once with the reason (dead letter), model marked failed', async () => {
    const { store } = gw.platform;
    await store.put('uploads/broken.tar.gz', 'not an archive at all '.repeat(40));
    let jobId = '';
    for (let i = 0; i < 50 && !jobId; i++) {
      const rows = await gw.platform.db.query.jobs.findMany();
      jobId = rows.find((j) => j.sourceKey === 'uploads/broken.tar.gz')?.id ?? '';
      if (!jobId) await new Promise((r) => setTimeout(r, 100));
    }
    const job = await waitForJob(gw.url, jobId, (j) => j.status === 'failed' || j.status === 'done');
    expect(job).toMatchObject({ status: 'failed', attempts: 1 });
    expect(job.error).toMatch(/tar|archive/i);
    const m = (await (await fetch(`${gw.url}/v1/models/broken`)).json()) as { status: string; variants: unknown[] };
    expect(m).toMatchObject({ status: 'failed', variants: [] });
  });
});
