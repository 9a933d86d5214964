/**
 * @module The version of what gateways serve: one cheap row that changes whenever a model, a ready
 * variant or an A/B route is added, replaced or removed. Gateways poll it and reload on a change.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../client.ts';

/**
 * A fingerprint of `models`, ready `variants` and `ab_routes` (counts and sums of their write times).
 * @example if ((await servingStateVersion(db)) !== seen) await reload();
 */
export async function servingStateVersion(db: Db): Promise<string> {
  const row = await db.get<{ v: string }>(sql`select
    (select count(*) || '.' || coalesce(sum(created_at), 0) from models) || '/' ||
    (select count(*) || '.' || coalesce(sum(created_at), 0) || '.' || coalesce(sum(bytes), 0) from variants where status = 'ready') || '/' ||
    (select count(*) || '.' || coalesce(sum(updated_at), 0) from ab_routes) as v`);
  return String((row as { v: string } | Record<string, unknown>).v ?? Object.values(row as object)[0]);
}
