/**
 * Acceptance: a worker process killed (SIGKILL) in the middle of a job loses nothing: its lease
 * expires, a second worker process takes the job over and finishes it, and after the gateway's next
 * start no scratch folder, no open multipart upload and no staging object is left. A model deleted
 * while its job runs leaves nothing behind either: the worker learns at its next heartbeat and removes
 * what it published.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { findJob } from '../../src/db/queries/jobs.ts';
import { scratchRoot } from '../../src/storage/scratch.ts';
import { eventually } from '../multi-gateway/gateway-process.ts';
import { CALIB_FILE, EVAL_FILE, storiesTarGz } from './archives.ts';
import { startTestGateway, waitForJob, type TestGateway } from './gateway.ts';

const ENV = { FLATGATE_JOB_LEASE_MS: '1500', FLATGATE_JOB_RETRY_BASE_MS: '100' };
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway(ENV);
});
afterAll(async () => gw?.close());

// no zero-shot tasks (`tasks=`): these tests are about leases and sweeps, and each attempt would evaluate them again
const params = `calib_samples=64&seq=128&tasks=&calibration_file=${encodeURIComponent(CALIB_FILE)}&eval_file=${encodeURIComponent(EVAL_FILE)}`;

it('a second worker finishes the job of a killed one, and the next start leaves no scratch, multipart upload or staging', async () => {
  const res = await fetch(`${gw.url}/v1/uploads?name=crashy&${params}`, { method: 'POST', body: await storiesTarGz() });
  expect(res.status).toBe(202);
  const { job, model } = (await res.json()) as { job: { id: string }; model: { id: string } };

  const first = gw.startWorker('doomed');
  const mid = await waitForJob(gw.url, job.id, (j) => j.status === 'running' && /^(calibration|similarity|compress)/.test(j.stage), 60_000);
  expect(mid.attempts).toBe(1);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const orphan = await waitForJob(gw.url, job.id, () => true);
  expect(orphan.status).toBe('running');
  // the killed worker's scratch folder is still there: only a sweep can remove it
  expect((await readdir(scratchRoot(gw.dataDir))).filter((n) => n.startsWith(`${first.pid}-`))).toHaveLength(1);

  gw.startWorker('rescuer');
  const done = await waitForJob(gw.url, job.id, (j) => j.status === 'done' || j.status === 'failed', 90_000);
  expect(done, gw.logs.join('')).toMatchObject({ status: 'done', attempts: 2, progress: 1 });
  expect(gw.logs.join('')).toContain(`[rescuer] [worker rescuer] job ${job.id} (model`);
  const view = (await (await fetch(`${gw.url}/v1/models/crashy`)).json()) as { variants: { id: string; status: string }[] };
  expect(view.variants.map((v) => v.id).sort()).toEqual(['crashy', 'crashy:flattengpt-20', 'crashy:shortgpt-20']);
  expect(view.variants.every((v) => v.status === 'ready')).toBe(true);
  expect(await gw.platform.store.list('tmp/')).toEqual([]);

  // the next start of the gateway, on the same data directory
  await gw.stop();
  gw = await startTestGateway(ENV, { dataDir: gw.dataDir });
  await gw.platform.swept; // the start-up sweep runs beside serving
  expect(await readdir(scratchRoot(gw.dataDir))).toEqual([]);
  expect(await gw.platform.store.openMultipartUploads('')).toEqual([]);
  expect(await gw.platform.store.list('tmp/')).toEqual([]);
  expect((await gw.platform.store.list('models/')).every((o) => o.key.startsWith(`models/${model.id}/`))).toBe(true);
  const again = await fetch(`${gw.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'crashy:flattengpt-20', prompt: 'Once', max_tokens: 3, temperature: 0 }),
  });
  expect(again.status).toBe(200);
});

it('a model deleted while its job runs leaves no row, object or staging: the worker removes what it published', async () => {
  const res = await fetch(`${gw.url}/v1/uploads?name=short-lived&${params}`, { method: 'POST', body: await storiesTarGz() });
  expect(res.status).toBe(202);
  const { job, model } = (await res.json()) as { job: { id: string }; model: { id: string } };
  gw.startWorker('busy');
  await waitForJob(gw.url, job.id, (j) => j.status === 'running' && /^(calibration|similarity|compress)/.test(j.stage), 60_000);
  // the original is published by now
  expect((await gw.platform.store.list(`models/${model.id}/original/`)).length).toBeGreaterThan(1);
  expect((await fetch(`${gw.url}/v1/models/short-lived`, { method: 'DELETE' })).status).toBe(200);
  await eventually(async () => (gw.logs.join('').includes(`job ${job.id}: its model was deleted; removing what it published`) ? true : undefined), 20_000, 'the worker noticing');
  await eventually(async () => ((await gw.platform.store.list(`models/${model.id}/`)).length === 0 ? true : undefined), 10_000, 'the objects going');
  expect(await gw.platform.store.list('tmp/')).toEqual([]);
  expect(await findJob(gw.platform.db, job.id)).toBeUndefined();
  expect((await fetch(`${gw.url}/v1/models/short-lived`)).status).toBe(404);
  // the worker is free for the next job
  expect(gw.logs.join('')).not.toContain(`job ${job.id} failed`);
});
