/**
 * @module The summary store of a serving node that has no share of the database: the Cloudflare serving
 * containers keep only a local libsql file, so their per-minute request summaries go to the Worker's
 * `/v1/worker/summaries` endpoints (worker token), which write them to D1, and their comparison reads
 * every gateway's rows back from there. Sweeping and compaction are asked of the Worker, which runs them
 * beside the table.
 */
import { SUMMARY_CALL_LIMITS as LIMITS, type SummaryRow, type SummaryStore } from '../serving/summaries.ts';
import { ComparisonStoreClient, ComparisonStoreUnavailable } from './comparison-store-client.ts';

type Cursor = { minute: number; rowid: number } | null;
interface Page {
  rows: SummaryRow[];
  next: Record<string, Cursor> | null;
}

const utf8 = new TextEncoder();

/**
 * Calls the summary endpoints at `baseUrl` (the Worker's URL) with `token` (ComparisonStoreUnavailable when it cannot).
 * @example const store = new HttpSummaryStore('https://flatgate.example.workers.dev', token);
 */
export class HttpSummaryStore implements SummaryStore {
  private readonly client: ComparisonStoreClient;

  /** @param timeoutMs a call that takes longer fails (flushes wait on each other, so none may hang) */
  constructor(baseUrl: string, token: string, timeoutMs?: number) {
    this.client = new ComparisonStoreClient(baseUrl, token, timeoutMs);
  }

  /** Sends the rows in calls of at most LIMITS.upsertRows rows and LIMITS.upsertBytes bytes. */
  async upsert(rows: readonly SummaryRow[]): Promise<void> {
    let batch: SummaryRow[] = [];
    let bytes = 0;
    const send = async () => {
      if (batch.length) await this.client.post('/v1/worker/summaries', { rows: batch });
      batch = [];
      bytes = 0;
    };
    for (const r of rows) {
      const size = utf8.encode(JSON.stringify(r)).length + 1;
      if (batch.length === LIMITS.upsertRows || (batch.length > 0 && bytes + size > LIMITS.upsertBytes)) await send();
      batch.push({ gateway: r.gateway, minute: r.minute, variant: r.variant, measure: r.measure, count: r.count, sum: r.sum, sketch: r.sketch });
      bytes += size;
    }
    await send();
  }

  /** Every gateway's rows, page after page until every variant is done. */
  async read(variants: readonly string[], since: number): Promise<SummaryRow[]> {
    const all = [...new Set(variants)];
    const out: SummaryRow[] = [];
    for (let i = 0; i < all.length; i += LIMITS.readVariants) {
      let pending = all.slice(i, i + LIMITS.readVariants);
      let after: Record<string, Cursor> = {};
      while (pending.length) {
        const page = await this.client.post<Page>('/v1/worker/summaries/read', { variants: pending, since, after });
        out.push(...page.rows);
        if (!page.next) break;
        // a page that returns nothing yet is not the last would loop forever
        if (page.rows.length === 0) throw new ComparisonStoreUnavailable(`at ${this.client.base} returned an empty page that was not the last`);
        after = page.next;
        pending = Object.keys(page.next);
      }
    }
    return out;
  }

  async sweep(before: number): Promise<number> {
    return (await this.client.post<{ deleted: number }>('/v1/worker/summaries/sweep', { before })).deleted;
  }

  /** The Worker compacts with mergeHour, the function every recorder passes here. */
  async compact(before: number): Promise<number> {
    return (await this.client.post<{ compacted: number }>('/v1/worker/summaries/compact', { before })).compacted;
  }
}
