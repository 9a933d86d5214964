/**
 * @module Scratch space under the data directory (never the system temp folder): each process works in
 * `<dataDir>/scratch/<pid>-<start ms>/`, so a start-up sweep can tell a crashed process's leftovers
 * (its pid is gone) from a live neighbour's (the gateway and its worker share the data directory).
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** The scratch root of a data directory. */
export const scratchRoot = (dataDir: string) => join(dataDir, 'scratch');

const OWNED = /^(\d+)-\d+$/;

/** Whether process `pid` is alive on this machine. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * This process's scratch folder (created on first use).
 * @example const dir = await processScratch('data'); const work = await mkdtemp(join(dir, 'job-'));
 */
export async function processScratch(dataDir: string): Promise<string> {
  const dir = join(scratchRoot(dataDir), `${process.pid}-${processStart}`);
  await mkdir(dir, { recursive: true });
  return dir;
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

/** A fresh folder under this process's scratch folder, named `<prefix>XXXXXX`. */
export async function scratchFolder(dataDir: string, prefix: string): Promise<string> {
  return mkdtemp(join(await processScratch(dataDir), prefix));
}

/**
 * Removes the scratch folders of processes that no longer run (a crash, a kill -9), and anything in the
 * scratch root that no process owns. Returns the names removed.
 */
export async function sweepScratch(dataDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const e of await readdir(scratchRoot(dataDir), { withFileTypes: true }).catch(() => [])) {
    const owner = OWNED.exec(e.name);
    if (owner && e.isDirectory() && Number(owner[1]) !== process.pid && alive(Number(owner[1]))) continue;
    if (owner && Number(owner[1]) === process.pid && e.name === `${process.pid}-${processStart}`) continue;
    await rm(join(scratchRoot(dataDir), e.name), { recursive: true, force: true });
    removed.push(e.name);
  }
  return removed;
}
