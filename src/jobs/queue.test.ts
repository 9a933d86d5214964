/**
 * The DB-backed queue on a real libsql file database, with a hand-driven clock: leases are exclusive,
 * heartbeats extend them, an expired lease is taken over, a stale lease can change nothing, failures
 * retry with exponential backoff and end in `failed` (dead letter), and enqueueing is idempotent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openLibsql, type OpenDb } from '../db/open-libsql.ts';
import { insertModel } from '../db/queries/models.ts';
import { jobs, models } from '../db/schema.ts';
import { JobQueue, LeaseLost } from './queue.ts';

let dir: string;
let opened: OpenDb;
let now = 1_000_000;
let q: JobQueue;
const policy = { leaseMs: 1000, maxAttempts: 3, retryBaseMs: 500 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fg-queue-'));
  opened = await openLibsql(`file:${join(dir, 'q.db')}`);
});
afterAll(async () => {
  opened.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await opened.db.delete(jobs);
  await opened.db.delete(models);
  now = 1_000_000;
  q = new JobQueue(opened.db, policy, () => now);
});

async function addJob(id: string, key = id) {
  await insertModel(opened.db, { id: `m-${id}`, name: `n-${id}`, sourceBucket: 'b', sourceKey: key, createdAt: now });
  const r = await q.enqueue({ id, modelId: `m-${id}`, idempotencyKey: `s3:b/${key}#e`, params: {}, sourceBucket: 'b', sourceKey: key });
  now += 1;
  return r;
}

describe('JobQueue', () => {
  it('enqueues once per idempotency key', async () => {
    const a = await addJob('j1', 'uploads/x');
    expect(a.created).toBe(true);
    const b = await q.enqueue({ id: 'j1b', modelId: 'm-j1', idempotencyKey: 's3:b/uploads/x#e', params: {}, sourceBucket: 'b', sourceKey: 'uploads/x' });
    expect(b).toMatchObject({ created: false, job: { id: 'j1' } });
  });

  it('hands each job to one worker, oldest first, counting attempts', async () => {
    await addJob('a');
    await addJob('b');
    const c1 = await q.claim('w1');
    const c2 = await q.claim('w2');
    expect([c1?.job.id, c2?.job.id]).toEqual(['a', 'b']);
    expect(c1?.job).toMatchObject({ status: 'running', attempts: 1, leaseExpiresAt: now + 1000 });
    expect(await q.claim('w3')).toBeNull();
  });

  it('heartbeats extend the lease; an expired lease is taken over and the old holder is locked out', async () => {
    await addJob('a');
    const c1 = (await q.claim('w1'))!;
    now += 900;
    await q.heartbeat('a', c1.lease, { stage: 'similarity', progress: 0.3 });
    now += 900;
    expect(await q.claim('w2')).toBeNull();
    expect(await q.get('a')).toMatchObject({ stage: 'similarity', progress: 0.3 });
    now += 200;
    const c2 = (await q.claim('w2'))!;
    expect(c2.job).toMatchObject({ id: 'a', attempts: 2, status: 'running' });
    await expect(q.heartbeat('a', c1.lease)).rejects.toBeInstanceOf(LeaseLost);
    await expect(q.complete('a', c1.lease)).rejects.toBeInstanceOf(LeaseLost);
    await expect(q.fail('a', c1.lease, 'x', true)).rejects.toBeInstanceOf(LeaseLost);
    await q.complete('a', c2.lease);
    expect(await q.get('a')).toMatchObject({ status: 'done', progress: 1, leaseOwner: null, finishedAt: now });
  });

  it('retries with exponential backoff, then dead-letters with the reason', async () => {
    await addJob('a');
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const c = await q.claim('w');
      expect(c?.job.attempts).toBe(attempt);
      const failedAt = now;
      const status = await q.fail('a', c!.lease, `boom ${attempt}`, true);
      if (attempt < 3) {
        expect(status).toBe('queued');
        const j = (await q.get('a'))!;
        delays.push(j.runAfter - failedAt);
        expect(await q.claim('w')).toBeNull();
        now = j.runAfter;
      } else {
        expect(status).toBe('failed');
      }
    }
    expect(delays).toEqual([500, 1000]);
    expect(await q.get('a')).toMatchObject({ status: 'failed', error: 'boom 3 (attempt 3 of 3)', attempts: 3 });
  });

  it('fails at once when the error is not retryable', async () => {
    await addJob('a');
    const c = (await q.claim('w'))!;
    expect(await q.fail('a', c.lease, 'not a tar archive', false)).toBe('failed');
    expect(await q.get('a')).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('dead-letters a job whose last allowed attempt lost its worker', async () => {
    await addJob('a');
    for (let i = 0; i < 3; i++) {
      expect(await q.claim('w')).not.toBeNull();
      now += 1001;
    }
    expect(await q.claim('w')).toBeNull();
    const j = await q.get('a');
    expect(j).toMatchObject({ status: 'failed', attempts: 3 });
    expect(j?.error).toMatch(/lease expired/);
  });

  it('tells onGiveUp once about each job that failed for good, by a permanent error or a lost last lease, never a retry', async () => {
    const given: string[] = [];
    q.onGiveUp(async (j) => {
      given.push(`${j.id}/${j.modelId}`);
    });
    await addJob('a');
    await addJob('b');
    const a = (await q.claim('w'))!;
    expect(await q.fail('a', a.lease, 'transient', true)).toBe('queued');
    expect(given).toEqual([]);
    now += 10_000;
    const a2 = (await q.claim('w'))!;
    expect(a2.job.id).toBe('a');
    expect(await q.fail('a', a2.lease, 'unsupported head size', false)).toBe('failed');
    expect(given).toEqual(['a/m-a']);
    for (let i = 0; i < 3; i++) {
      expect((await q.claim('w'))?.job.id).toBe('b');
      now += 1001;
    }
    await q.get('b');
    await q.get('b');
    expect(given).toEqual(['a/m-a', 'b/m-b']);
  });
});
