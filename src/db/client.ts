/**
 * @module The typed database handle over any async SQLite driver drizzle supports (libsql here, D1 on
 * Cloudflare), and the Node-side opener that applies the committed migrations.
 */
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import * as schema from './schema.ts';

/** The schema, for typed relational queries. */
export type Schema = typeof schema;

/** A drizzle database over the flatgate schema (libsql or D1). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the run-result type differs per driver
export type Db = BaseSQLiteDatabase<'async', any, Schema>;

export { schema };
