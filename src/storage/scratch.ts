/**
 * @module Scratch space under the data directory (never the system temp folder): every scratch folder is
 * `<dataDir>/scratch/<pid>-<start ms>-<what>XXXXXX`, named for the process that made it, so a start-up
 * sweep can tell a crashed process's leftovers (its pid is gone) from a live neighbour's (the gateway and
 * its worker share the data directory).
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** The scratch root of a data directory. */
export const scratchRoot = (dataDir: string) => join(dataDir, 'scratch');

const OWNED = /^(\d+)-(\d+)-/;

/** Whether process `pid` is alive on this machine. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const processStart = Date.now();

/** The host, as it may appear in an object key. */
const host = () => hostname().replace(/[^A-Za-z0-9.-]/g, '_') || 'host';

/**
 * Names this process in object keys it stages (`<host>/<pid>-<start ms>`), so that a sweep on the same
 * host can tell a dead process's staging from a live one's.
 */
export const processTag = () => `${host()}/${process.pid}-${processStart}`;

/**
 * Whether the process a {@link processTag} names is known to be gone: it ran on this host and its pid is
 * not alive (or it is this pid with another start time). Null when it ran elsewhere (unknown).
 */
export function tagOwnerGone(tag: string): boolean | null {
  const m = /^([^/]+)\/(\d+)-(\d+)$/.exec(tag);
  if (!m || m[1] !== host()) return null;
  const pid = Number(m[2]);
  if (pid === process.pid) return Number(m[3]) !== processStart;
  return !alive(pid);
}

/**
 * A fresh scratch folder of this process, `<pid>-<start>-<prefix>XXXXXX`; the caller removes it.
 * @example const dir = await scratchFolder('data', 'job-'); try { ... } finally { await rm(dir, { recursive: true, force: true }); }
 */
export async function scratchFolder(dataDir: string, prefix: string): Promise<string> {
  await mkdir(scratchRoot(dataDir), { recursive: true });
  return mkdtemp(join(scratchRoot(dataDir), `${process.pid}-${processStart}-${prefix}`));
}

/**
 * Removes the scratch folders of processes that no longer run (a crash, a kill -9), and anything in the
 * scratch root that no process owns. Returns the names removed.
 */
export async function sweepScratch(dataDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const e of await readdir(scratchRoot(dataDir), { withFileTypes: true }).catch(() => [])) {
    const owner = OWNED.exec(e.name);
    const pid = Number(owner?.[1]);
    if (owner && pid === process.pid && Number(owner[2]) === processStart) continue;
    if (owner && pid !== process.pid && alive(pid)) continue;
    await rm(join(scratchRoot(dataDir), e.name), { recursive: true, force: true });
    removed.push(e.name);
  }
  return removed;
}
