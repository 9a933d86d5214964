/**
 * Acceptance: a gateway process killed (SIGKILL) in the middle of an HTTP upload leaves a scratch folder
 * and an open multipart upload behind; its next start removes both, and no staging or model object and
 * no model row is left. Killed in the middle of a job, its embedded worker exits too, and after the next
 * start the job is finished with no scratch, multipart upload or staging left. Presigned uploads past
 * their expiry are refused on completion and swept at start.
 */
import { once } from 'node:events';
import { readFile, readdir, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmbeddedS3, type EmbeddedS3 } from '../../src/storage/embedded-s3.ts';
import { ObjectStore } from '../../src/storage/object-store.ts';
import { scratchRoot } from '../../src/storage/scratch.ts';
import { STORIES12L, TOK512 } from '../fixtures/paths.ts';
import { CALIB_FILE, EVAL_FILE, makeTar, storiesTarGz } from '../pipeline/archives.ts';
import { eventually, startGatewayProcess, type GatewayProcess, type SharedStores } from './gateway-process.ts';

let dir: string;
let s3: EmbeddedS3;
let store: ObjectStore;
let shared: SharedStores;
let gw: GatewayProcess | null = null;
const dataDir = () => join(dir, 'data');
// presigned URLs live 3 s: long enough for a PUT on a loaded CI machine (1 s was not), short enough to wait out
const ENV = { FLATGATE_PRESIGNED_EXPIRY_S: '3', FLATGATE_JOB_LEASE_MS: '1500', FLATGATE_JOB_RETRY_BASE_MS: '100' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fg-crash-'));
  s3 = await startEmbeddedS3({ directory: join(dir, 's3'), bucket: 'shared', port: 0, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  store = new ObjectStore({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'shared', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });
  shared = { databaseUrl: `file:${join(dir, 'shared.db')}`, s3Endpoint: s3.endpoint, bucket: 'shared' };
  gw = await startGatewayProcess('G', dataDir(), shared, ENV);
});
afterAll(async () => {
  await gw?.stop();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

it('kill -9 in the middle of an upload: the next start leaves no scratch folder, multipart upload, object or row', async () => {
  // a 9 MB model, more than one 8 MiB part, so the staging upload is a multipart upload
  const archive = await makeTar(
    [
      { name: 'm/tok512.bin', data: await readFile(TOK512) },
      { name: 'm/stories12L.bin', data: await readFile(STORIES12L) },
    ],
    false,
  );
  const url = new URL(`${gw!.url}/v1/uploads?name=interrupted&methods=shortgpt`);
  const req = request(url, { method: 'POST', headers: { 'content-type': 'application/x-tar', 'content-length': String(archive.length) } });
  req.on('error', () => undefined); // the gateway dies under it
  const sent = archive.length - 200_000; // most of it, never the end
  for (let i = 0; i < sent; i += 256 * 1024) if (!req.write(archive.subarray(i, Math.min(sent, i + 256 * 1024)))) await once(req, 'drain');
  const multipart = await eventually(async () => {
    const open = await store.openMultipartUploads('tmp/');
    return open.length > 0 ? open : undefined;
  }, 30_000, 'the staging multipart upload');
  expect(multipart[0].key).toMatch(/^tmp\/upload\//);
  const scratch = await readdir(scratchRoot(dataDir()));
  expect(scratch.some((n) => n.startsWith(`${gw!.child.pid}-`))).toBe(true);

  await gw!.crash();
  req.destroy();
  expect((await store.openMultipartUploads('')).length).toBe(1);

  gw = await startGatewayProcess('G2', dataDir(), shared, ENV);
  // the sweep runs beside serving (a cold start does not wait for it)
  await eventually(async () => (gw!.logs.join('').includes('start-up sweep removed') ? true : undefined), 20_000, 'the start-up sweep');
  expect(await readdir(scratchRoot(dataDir()))).toEqual([]);
  expect(await store.openMultipartUploads('')).toEqual([]);
  expect(await store.list('')).toEqual([]);
  expect((await fetch(`${gw.url}/v1/models/interrupted`)).status).toBe(404);
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('kill -9 in the middle of a job: the embedded worker exits too; after the next start the job finishes and nothing is left', async () => {
  await gw!.stop();
  gw = await startGatewayProcess('W', dataDir(), shared, { ...ENV, FLATGATE_EMBEDDED_WORKER: 'true' });
  // slow enough to be caught in the middle: both methods, evaluated
  const params = `calib_samples=64&seq=128&calibration_file=${encodeURIComponent(CALIB_FILE)}&eval_file=${encodeURIComponent(EVAL_FILE)}`;
  const res = await fetch(`${gw.url}/v1/uploads?name=midjob&${params}`, { method: 'POST', body: await storiesTarGz() });
  expect(res.status).toBe(202);
  const { job, model } = (await res.json()) as { job: { id: string }; model: { id: string } };
  type Job = { status: string; stage: string; attempts: number };
  let ended = '';
  const jobOf = async () => (await (await fetch(`${gw!.url}/v1/jobs/${job.id}`)).json()) as Job;
  await eventually(async () => {
    const j = await jobOf();
    if (j.status === 'failed' || j.status === 'done') ended = `${JSON.stringify(j)}\n${gw!.logs.join('')}`;
    return j.status === 'running' && /^(calibration|similarity|compress)/.test(j.stage) ? j : undefined;
  }, 60_000, 'the job running').catch((err) => {
    throw new Error(`${(err as Error).message}; the job ended too soon: ${ended}`);
  });
  const [workerPid] = gw.workerPids();
  expect(workerPid).toBeGreaterThan(0);
  expect((await store.list('models/')).length).toBeGreaterThan(0); // the original is published
  await gw.crash();
  await eventually(async () => (alive(workerPid) ? undefined : true), 10_000, 'the orphaned worker exiting');
  expect((await readdir(scratchRoot(dataDir()))).some((n) => n.startsWith(`${workerPid}-`))).toBe(true);

  gw = await startGatewayProcess('W2', dataDir(), shared, { ...ENV, FLATGATE_EMBEDDED_WORKER: 'true' });
  const done = await eventually(async () => {
    const j = await jobOf();
    return j.status === 'done' || j.status === 'failed' ? j : undefined;
  }, 90_000, 'the job finishing after the restart');
  expect(done, gw.logs.join('')).toMatchObject({ status: 'done', attempts: 2 });
  expect(await readdir(scratchRoot(dataDir()))).toEqual([]);
  expect(await store.openMultipartUploads('')).toEqual([]);
  expect(await store.list('tmp/')).toEqual([]);
  expect((await store.list('models/')).every((o) => o.key.startsWith(`models/${model.id}/`))).toBe(true);
  await gw.stop();
  gw = await startGatewayProcess('G3', dataDir(), shared, ENV);
});

async function presign(name: string): Promise<{ id: string; parts: { part_number: number; url: string }[] }> {
  const res = await fetch(`${gw!.url}/v1/uploads/multipart`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, size: 1000 }) });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; parts: { part_number: number; url: string }[] };
}

it('a presigned upload completed after its expiry is refused (410) and leaves nothing; one never completed is swept at start', async () => {
  const up = await presign('late');
  const put = await fetch(up.parts[0].url, { method: 'PUT', body: new Uint8Array(1000).fill(1) });
  expect(put.status).toBe(200);
  const etag = put.headers.get('etag')!;
  await new Promise((r) => setTimeout(r, 3200));
  const res = await fetch(`${gw!.url}/v1/uploads/multipart/${up.id}/complete`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ parts: [{ part_number: 1, etag }] }),
  });
  expect(res.status).toBe(410);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upload_expired');
  expect(await store.openMultipartUploads('')).toEqual([]);
  expect(await store.list('tmp/')).toEqual([]);

  const abandoned = await presign('abandoned');
  await fetch(abandoned.parts[0].url, { method: 'PUT', body: new Uint8Array(1000).fill(2) });
  expect((await store.openMultipartUploads('')).length).toBe(1);
  await new Promise((r) => setTimeout(r, 3200));
  await gw!.stop();
  gw = await startGatewayProcess('G4', dataDir(), shared, ENV);
  await eventually(async () => (gw!.logs.join('').includes('"expiredUploads":["') ? true : undefined), 20_000, 'the start-up sweep');
  expect(await store.openMultipartUploads('')).toEqual([]);
  expect(await store.list('tmp/')).toEqual([]);
});
