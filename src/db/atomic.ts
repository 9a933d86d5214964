/**
 * @module Several writes as one atomic unit on every driver we run: drizzle's `batch`, which libsql
 * runs in one transaction and D1 runs as one implicit transaction. D1 has no interactive transactions
 * (no BEGIN from a Worker), so the services never read in the middle of a write: each statement
 * carries its own guard (a conditional WHERE), and the batch commits or rolls back as a whole.
 */
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from './client.ts';

/** What both drizzle-orm/libsql and drizzle-orm/d1 databases offer. */
interface Batching {
  batch(queries: readonly BatchItem<'sqlite'>[]): Promise<unknown[]>;
}

/**
 * Runs `queries` atomically and returns each one's result, in order.
 * @example const [done] = await atomically(db, [db.update(jobs).set(...).returning(), db.delete(x)]);
 */
export async function atomically(db: Db, queries: BatchItem<'sqlite'>[]): Promise<unknown[]> {
  const batching = db as unknown as Partial<Batching>;
  if (typeof batching.batch !== 'function') throw new Error('this database driver cannot batch writes atomically');
  if (queries.length === 0) return [];
  return batching.batch(queries as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
}
