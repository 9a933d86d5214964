/**
 * @module Opens a libsql database (a local file by default) and applies the migrations in drizzle/.
 */
import { createClient } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { schema, type Db } from './client.ts';

/** The committed migrations folder. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** An open database and how to close it. */
export interface OpenDb {
  db: Db;
  close(): void;
}

/**
 * Opens `url` (`file:...`, `libsql://...`, `:memory:`) and migrates it to the latest schema.
 * @example const { db } = await openLibsql('file:data/flatgate.db');
 */
export async function openLibsql(url: string, authToken?: string | null): Promise<OpenDb> {
  if (url.startsWith('file:')) await mkdir(dirname(url.slice(5)), { recursive: true });
  // `timeout` is the busy timeout of every pooled connection (a PRAGMA below reaches only the first one)
  const client = createClient({ url, authToken: authToken ?? undefined, timeout: 5000 });
  await client.execute('PRAGMA busy_timeout = 5000');
  await client.execute('PRAGMA foreign_keys = ON');
  if (url.startsWith('file:')) await client.execute('PRAGMA journal_mode = WAL');
  const db = drizzle(client, { schema, casing: 'snake_case' });
  try {
    await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  } catch (err) {
    // two gateways starting on one new database race to migrate it: the loser finds it done on a retry
    await new Promise((r) => setTimeout(r, 250));
    await migrate(db, { migrationsFolder: MIGRATIONS_DIR }).catch(() => Promise.reject(err));
  }
  return { db: db as unknown as Db, close: () => client.close() };
}
