/**
 * @module The start-up sweep: removes what crashed processes and deleted models left behind.
 * - scratch folders of processes that no longer run (storage/scratch.ts);
 * - presigned uploads past their expiry (multipart upload aborted, row closed);
 * - unfinished multipart uploads and staging objects under `tmp/`: at once when their owner is known to
 *   be gone (an HTTP upload staged by a dead process on this host, a job attempt that no longer runs, an
 *   upload row that is closed), otherwise once older than the grace period (another host's upload may
 *   still be streaming);
 * - objects under `models/<id>/` whose model row is gone, once older than the grace period (an upload
 *   copies its archive there just before it inserts the row).
 * Objects are listed before rows are read, so a job or upload that starts meanwhile is never swept.
 */
import { inArray } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { expiredOpenUploads, openUploads } from '../db/queries/uploads.ts';
import { jobs, models } from '../db/schema.ts';
import { STAGING_PREFIX } from '../storage/layout.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { sweepScratch, tagOwnerGone } from '../storage/scratch.ts';
import { abortExpiredUpload } from './presigned-intake.ts';

/** What the sweep needs. */
export interface SweepDeps {
  db: Db;
  store: ObjectStore;
  dataDir: string;
  /** Age after which unowned staging, multipart uploads and orphan model objects go (ms). */
  graceMs: number;
  /** Clean the bucket too (false: scratch only; for nodes whose database is not the bucket's truth). */
  bucket?: boolean;
  now?: number;
  log?: (msg: string, err?: unknown) => void;
}

/** What one sweep removed. */
export interface SweepReport {
  scratch: string[];
  expiredUploads: string[];
  multipartUploads: string[];
  stagingObjects: number;
  orphanModels: string[];
}

/** Who owns a staging key: an HTTP upload (tagged with its process), a job attempt, or a presigned upload. */
type Owner = { kind: 'upload'; tag: string } | { kind: 'job'; id: string; attempt: number } | { kind: 'presigned'; id: string } | { kind: 'unknown' };

function ownerOf(key: string): Owner {
  const rest = key.slice(STAGING_PREFIX.length);
  let m = /^upload\/([^/]+\/\d+-\d+)\//.exec(rest);
  if (m) return { kind: 'upload', tag: m[1] };
  m = /^job-(.+)-(\d+)\//.exec(rest);
  if (m) return { kind: 'job', id: m[1], attempt: Number(m[2]) };
  m = /^presigned-(upl_[A-Za-z0-9]+)\//.exec(rest);
  if (m) return { kind: 'presigned', id: m[1] };
  return { kind: 'unknown' };
}

/**
 * Runs the sweep once.
 * @example await sweepLeftovers({ db, store, dataDir: 'data', graceMs: 3_600_000 });
 */
export async function sweepLeftovers(deps: SweepDeps): Promise<SweepReport> {
  const { db, store } = deps;
  const now = deps.now ?? Date.now();
  const old = (t: number | undefined) => t !== undefined && now - t > deps.graceMs;
  const report: SweepReport = { scratch: await sweepScratch(deps.dataDir), expiredUploads: [], multipartUploads: [], stagingObjects: 0, orphanModels: [] };

  if (deps.bucket === false) return report;
  for (const row of await expiredOpenUploads(db, now)) if (await abortExpiredUpload({ db, store }, row)) report.expiredUploads.push(row.id);

  const multipart = await store.openMultipartUploads(STAGING_PREFIX);
  const staged = await store.list(STAGING_PREFIX);
  const modelObjects = await store.list('models/');
  const open = new Map((await openUploads(db)).map((u) => [u.id, u]));
  const jobIds = [...new Set([...multipart.map((u) => u.key), ...staged.map((o) => o.key)].map(ownerOf).flatMap((o) => (o.kind === 'job' ? [o.id] : [])))];
  const running = new Map(
    jobIds.length === 0 ? [] : (await db.select({ id: jobs.id, status: jobs.status, attempts: jobs.attempts }).from(jobs).where(inArray(jobs.id, jobIds))).map((j) => [j.id, j]),
  );
  const ownerGone = (key: string): boolean | null => {
    const o = ownerOf(key);
    if (o.kind === 'upload') return tagOwnerGone(o.tag);
    if (o.kind === 'job') {
      const j = running.get(o.id);
      return !j || j.status !== 'running' || j.attempts !== o.attempt;
    }
    // a presigned upload's object exists only while its completion validates it
    if (o.kind === 'presigned') return open.has(o.id) ? false : null;
    return null;
  };

  for (const u of multipart) {
    const gone = ownerGone(u.key);
    if (gone === true || (gone === null && old(u.initiated))) {
      await store.abortMultipartUpload(u.key, u.uploadId);
      report.multipartUploads.push(u.uploadId);
    }
  }
  const doomed = staged.filter((o) => {
    const gone = ownerGone(o.key);
    return gone === true || (gone === null && old(o.lastModified));
  });
  await store.deleteKeys(doomed.map((o) => o.key));
  report.stagingObjects = doomed.length;

  const byModel = new Map<string, { keys: string[]; newest: number }>();
  for (const o of modelObjects) {
    const id = o.key.split('/')[1];
    const g = byModel.get(id) ?? { keys: [], newest: 0 };
    g.keys.push(o.key);
    g.newest = Math.max(g.newest, o.lastModified ?? now);
    byModel.set(id, g);
  }
  const ids = [...byModel.keys()];
  const known = new Set(ids.length === 0 ? [] : (await db.select({ id: models.id }).from(models).where(inArray(models.id, ids))).map((m) => m.id));
  for (const [id, g] of byModel) {
    if (known.has(id) || !old(g.newest)) continue;
    await store.deleteKeys(g.keys);
    report.orphanModels.push(id);
  }
  return report;
}
