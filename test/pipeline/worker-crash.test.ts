/**
 * Acceptance: a worker process killed (SIGKILL) in the middle of a job loses nothing: its lease
 * expires, a second worker process takes the job over and finishes it, and no staging object is left.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CALIB_FILE, EVAL_FILE, storiesTarGz } from './archives.ts';
import { startTestGateway, waitForJob, type TestGateway } from './gateway.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ FLATGATE_JOB_LEASE_MS: '1500', FLATGATE_JOB_RETRY_BASE_MS: '100' });
});
afterAll(async () => gw?.close());

it('a second worker finishes the job of a killed one', async () => {
  // no zero-shot tasks (`tasks=`): this test is about the lease, and each attempt would evaluate them again
  const params = `calib_samples=64&seq=128&tasks=&calibration_file=${encodeURIComponent(CALIB_FILE)}&eval_file=${encodeURIComponent(EVAL_FILE)}`;
  const res = await fetch(`${gw.url}/v1/uploads?name=crashy&${params}`, { method: 'POST', body: await storiesTarGz() });
  expect(res.status).toBe(202);
  const { job } = (await res.json()) as { job: { id: string } };

  const first = gw.startWorker('doomed');
  const mid = await waitForJob(gw.url, job.id, (j) => j.status === 'running' && /^(calibration|similarity|compress)/.test(j.stage), 60_000);
  expect(mid.attempts).toBe(1);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const orphan = await waitForJob(gw.url, job.id, () => true);
  expect(orphan.status).toBe('running');

  gw.startWorker('rescuer');
  const done = await waitForJob(gw.url, job.id, (j) => j.status === 'done' || j.status === 'failed', 90_000);
  expect(done, gw.logs.join('')).toMatchObject({ status: 'done', attempts: 2, progress: 1 });
  expect(gw.logs.join('')).toContain(`[rescuer] [worker rescuer] job ${job.id} (model`);
  const model = (await (await fetch(`${gw.url}/v1/models/crashy`)).json()) as { variants: { id: string; status: string }[] };
  expect(model.variants.map((v) => v.id).sort()).toEqual(['crashy', 'crashy:flattengpt-20', 'crashy:shortgpt-20']);
  expect(model.variants.every((v) => v.status === 'ready')).toBe(true);
  expect(await gw.platform.store.list('tmp/')).toEqual([]);
});
