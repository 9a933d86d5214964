/**
 * @module Mergeable per-minute summaries of served requests: for each (minute, variant, measure) a count,
 * a sum and, for latency-like measures, a DDSketch (1% relative accuracy). A gateway keeps the minutes it
 * is still writing in memory and flushes them to a `SummaryStore` as upserts keyed by (gateway, minute,
 * variant, measure); any gateway reads every gateway's rows and merges them, so the comparison covers
 * all traffic and survives restarts. Counts and sums are exact; percentiles are DDSketch's.
 */
import type { DDSketch } from '@datadog/sketches-js';
import type { RequestSample } from './metrics.ts';
import { encodeSketch, mergeEncoded, newSketch } from './sketch-codec.ts';

export { decodeSketch, encodeSketch, mergeEncoded, newSketch, RELATIVE_ACCURACY } from './sketch-codec.ts';

/** Summaries are kept per minute (Unix ms of the minute's start). */
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
/** The gateway id of rows that merge every gateway's minutes of one hour (written by compaction). */
export const ROLLUP_GATEWAY = '*';
/**
 * Hours that ended this long ago are compacted into one row per (variant, measure); a gateway never
 * writes minutes older than WRITE_HORIZON_MS, so no minute is counted both in a rollup and again.
 */
export const COMPACT_AFTER_MS = 2 * HOUR_MS;
export const WRITE_HORIZON_MS = HOUR_MS;

/** One stored summary: one measure of one variant over one minute, as one gateway saw it. */
export interface SummaryRow {
  gateway: string;
  minute: number;
  variant: string;
  measure: string;
  count: number;
  sum: number;
  /** A DDSketch in its protobuf form, base64; null for plain counters. */
  sketch: string | null;
}

/** Where summaries live (the database; memory for an app without one). */
export interface SummaryStore {
  /** Inserts or replaces rows by (gateway, minute, variant, measure). */
  upsert(rows: readonly SummaryRow[]): Promise<void>;
  /** Every gateway's rows of `variants` for minutes at or after `since` (Unix ms). */
  read(variants: readonly string[], since: number): Promise<SummaryRow[]>;
  /** Deletes rows of minutes before `before`; returns how many went. */
  sweep(before: number): Promise<number>;
  /**
   * Replaces, hour by hour (and variant by variant), each in one transaction, every row of the hours that
   * end before `before` with the rows `merge` makes of them. Returns the (hour, variant) pairs compacted.
   */
  compact?(before: number, merge: (rows: SummaryRow[], hour: number) => SummaryRow[]): Promise<number>;
}

/**
 * Bounds of one call to the summary store's HTTP endpoints (routes/summaries.ts), which its client
 * (platform/http-summary-store.ts) keeps to.
 */
export const SUMMARY_CALL_LIMITS = {
  /** Rows per upsert. */
  upsertRows: 500,
  /** JSON bytes per upsert the client sends (the endpoint's own limit is FLATGATE_MAX_REQUEST_BYTES). */
  upsertBytes: 256 * 1024,
  /** Rows per page read. */
  pageRows: 500,
  /** Variants per read. */
  readVariants: 64,
  /** Base64 characters of one sketch (a 1% sketch of real latencies is a few KB). */
  sketchChars: 65_536,
  /** (hour, variant) pairs compacted per call. */
  compactPairs: 12,
} as const;

/** Upper bounds of the prompt- and output-length buckets (tokens); the last bucket is open. */
export const LENGTH_EDGES = [16, 64, 256, 1024] as const;

/** The bucket label of a token count: `1-16`, `17-64`, `65-256`, `257-1024`, `1025+` (and `0`). */
export function lengthBucket(tokens: number): string {
  if (tokens <= 0) return '0';
  let lo = 1;
  for (const hi of LENGTH_EDGES) {
    if (tokens <= hi) return `${lo}-${hi}`;
    lo = hi + 1;
  }
  return `${lo}+`;
}

/** Every bucket label in order (for tables and plots). */
export const LENGTH_BUCKETS = ['0', ...LENGTH_EDGES.map((hi, i) => `${i === 0 ? 1 : LENGTH_EDGES[i - 1] + 1}-${hi}`), `${LENGTH_EDGES.at(-1)! + 1}+`];

/** A request as the summaries see it: the serving sample plus what kind of call it was and how it ended. */
export type SummarySample = RequestSample;

/**
 * The measures one request adds: [measure, value, sketched]. Counters add 1 to `count` and `value` to
 * `sum`; sketched measures also put `value` into the sketch. Latency and throughput come only from
 * requests that finished.
 */
export function measuresOf(s: SummarySample): [string, number, boolean][] {
  const out: [string, number, boolean][] = [['requests', 1, false]];
  const outcome = s.outcome ?? 'ok';
  if (outcome !== 'ok') out.push([`outcome:${outcome}`, 1, false]);
  const scoring = s.kind === 'scoring';
  out.push([scoring ? 'kind:scoring' : 'kind:generation', 1, false]);
  out.push([`prompt:${lengthBucket(s.promptTokens)}`, 1, false], [`output:${lengthBucket(s.completionTokens)}`, 1, false]);
  out.push(['prompt_tokens', s.promptTokens, false], ['completion_tokens', s.completionTokens, false]);
  // a failed or abandoned request is traffic, but its timings say nothing of the variant's speed
  if (outcome !== 'ok') return out;
  out.push(['queue', s.queue, true], ['e2e', s.e2e, true]);
  if (s.ttft !== null) {
    out.push(['ttft', s.ttft, true], [`ttft|prompt:${lengthBucket(s.promptTokens)}`, s.ttft, true]);
    // prefill: the prompt's forward pass, from leaving the queue to the first token
    const prefill = s.ttft - s.queue;
    if (prefill > 0 && s.promptTokens > 0) {
      out.push(['prefill_tokens', s.promptTokens, false], ['prefill_seconds', prefill, false], ['prefill_tps', s.promptTokens / prefill, true]);
    }
    // decode: every token after the first, over the time after the first
    const decode = s.e2e - s.ttft;
    if (s.completionTokens > 1 && decode > 0) {
      out.push(['decode_tokens', s.completionTokens - 1, false], ['decode_seconds', decode, false], ['decode_tps', (s.completionTokens - 1) / decode, true]);
    }
  }
  for (const gap of s.itl) out.push(['itl', gap, true]);
  return out;
}

interface Cell {
  count: number;
  sum: number;
  sketch: DDSketch | null;
  dirty: boolean;
  /** The count the store has of this cell (its last write that went through). */
  stored: number;
}

/**
 * One gateway's summaries of the minutes it is still writing, flushed to a store. Each flush writes the
 * full state of every changed minute (an idempotent replace of this gateway's row); a closed minute is
 * forgotten once written.
 * @example const rec = new SummaryRecorder(store, 'gw-1'); metrics.observe(rec); rec.start(10_000);
 */
export class SummaryRecorder {
  private readonly cells = new Map<string, Cell>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private lastSweep = 0;
  private log: (msg: string, err?: unknown) => void = (msg) => console.error(`flatgate: ${msg}`);
  /** Requests whose summaries were given up: their minute could not be written within the horizon. */
  dropped = 0;

  /**
   * @param store where rows go
   * @param gateway this gateway's id; unique per process, so that no two writers share a row
   * @param retentionMs rows of minutes older than this are swept (at most every 10 minutes, by any gateway)
   */
  constructor(
    readonly store: SummaryStore,
    readonly gateway: string,
    private readonly retentionMs = 8 * 86_400_000,
    private readonly clock: () => number = Date.now,
  ) {}

  private add(minute: number, variant: string, measure: string, value: number, sketched: boolean): void {
    const key = `${minute}\u0000${variant}\u0000${measure}`;
    let cell = this.cells.get(key);
    if (!cell) {
      cell = { count: 0, sum: 0, sketch: sketched ? newSketch() : null, dirty: true, stored: 0 };
      this.cells.set(key, cell);
    }
    cell.count++;
    cell.sum += value;
    cell.sketch?.accept(value);
    cell.dirty = true;
  }

  /** Adds a finished request (MetricsStore observer). */
  sample(s: SummarySample): void {
    const minute = Math.floor(s.at / MINUTE_MS) * MINUTE_MS;
    for (const [measure, value, sketched] of measuresOf(s)) this.add(minute, s.variant, measure, value, sketched);
  }

  /** Adds a prompt-scoring forward: prefill work, and its own latency measure (MetricsStore observer). */
  scoring(_model: string, variant: string, seconds: number, promptTokens: number): void {
    const minute = Math.floor(this.clock() / MINUTE_MS) * MINUTE_MS;
    this.add(minute, variant, 'scoring', seconds, true);
    if (seconds > 0 && promptTokens > 0) {
      this.add(minute, variant, 'prefill_tokens', promptTokens, false);
      this.add(minute, variant, 'prefill_seconds', seconds, false);
      this.add(minute, variant, 'prefill_tps', promptTokens / seconds, true);
    }
  }

  /** Adds a shadow run's agreement, under the shadow variant and naming the primary (MetricsStore observer). */
  agreement(primary: string, shadow: string, top1: number, tokens: number): void {
    const minute = Math.floor(this.clock() / MINUTE_MS) * MINUTE_MS;
    this.add(minute, shadow, `agreement@${primary}`, top1 * tokens, false);
    this.add(minute, shadow, `agreement_tokens@${primary}`, tokens, false);
  }

  /** Writes every changed minute; forgets closed minutes once written. Calls are serialized. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushNow(), () => this.flushNow());
    return this.flushing;
  }

  private async flushNow(): Promise<void> {
    // past the horizon its hour may be compacted: writing it again would count it twice, so it is dropped,
    // and said so (the store was unreachable for an hour)
    const horizon = this.clock() - WRITE_HORIZON_MS;
    let lost = 0;
    for (const [key, cell] of this.cells) {
      const [minute, , measure] = key.split('\u0000');
      if (Number(minute) >= horizon) continue;
      if (measure === 'requests') lost += cell.count - cell.stored;
      this.cells.delete(key);
    }
    if (lost > 0) {
      this.dropped += lost;
      this.log(`dropped the summaries of ${lost} requests: the store took none of their minutes' writes within ${WRITE_HORIZON_MS / MINUTE_MS} minutes`);
    }
    const rows: SummaryRow[] = [];
    const written: [Cell, number][] = [];
    for (const [key, cell] of this.cells) {
      if (!cell.dirty) continue;
      const [minute, variant, measure] = key.split('\u0000');
      rows.push({ gateway: this.gateway, minute: Number(minute), variant, measure, count: cell.count, sum: cell.sum, sketch: cell.sketch ? encodeSketch(cell.sketch) : null });
      cell.dirty = false;
      written.push([cell, cell.count]);
    }
    try {
      if (rows.length) await this.store.upsert(rows);
    } catch (err) {
      // kept, and written whole at the next flush (each write replaces the gateway's row)
      for (const [cell] of written) cell.dirty = true;
      throw err;
    }
    for (const [cell, count] of written) cell.stored = count;
    const now = this.clock();
    const open = Math.floor(now / MINUTE_MS) * MINUTE_MS;
    for (const [key, cell] of this.cells) if (!cell.dirty && Number(key.split('\u0000')[0]) < open) this.cells.delete(key);
    if (now - this.lastSweep > 10 * MINUTE_MS) {
      this.lastSweep = now;
      await this.store.sweep(now - this.retentionMs);
      await this.store.compact?.(Math.floor((now - COMPACT_AFTER_MS) / HOUR_MS) * HOUR_MS, mergeHour);
    }
  }

  /**
   * Flushes every `intervalMs` until stopped; errors go to `log` (and so do dropped minutes), and the
   * rows are retried next time.
   */
  start(intervalMs: number, log: (msg: string, err?: unknown) => void = this.log): void {
    this.log = log;
    this.timer ??= setInterval(() => this.flush().catch((err) => log('cannot flush request summaries', err)), intervalMs);
    this.timer.unref?.();
  }

  /** Stops the timer and writes what is left (at shutdown). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}

/**
 * Merges every row of one hour (every gateway's minutes, and an earlier rollup) into one row per
 * (variant, measure) under ROLLUP_GATEWAY: counts and sums added, sketches merged.
 */
export function mergeHour(rows: SummaryRow[], hour: number): SummaryRow[] {
  const merged = new Map<string, { row: SummaryRow; sketch: DDSketch | null }>();
  for (const r of rows) {
    const key = `${r.variant}\u0000${r.measure}`;
    let m = merged.get(key);
    if (!m) {
      m = { row: { gateway: ROLLUP_GATEWAY, minute: hour, variant: r.variant, measure: r.measure, count: 0, sum: 0, sketch: null }, sketch: null };
      merged.set(key, m);
    }
    m.row.count += r.count;
    m.row.sum += r.sum;
    if (r.sketch !== null) mergeEncoded((m.sketch ??= newSketch()), r.sketch);
  }
  return [...merged.values()].map(({ row, sketch }) => ({ ...row, sketch: sketch ? encodeSketch(sketch) : null }));
}

/** Summaries in memory: for an app without a database (tests, the bare serving app). */
export class MemorySummaryStore implements SummaryStore {
  private readonly rows = new Map<string, SummaryRow>();
  async upsert(rows: readonly SummaryRow[]): Promise<void> {
    for (const r of rows) this.rows.set(`${r.gateway}\u0000${r.minute}\u0000${r.variant}\u0000${r.measure}`, { ...r });
  }
  async read(variants: readonly string[], since: number): Promise<SummaryRow[]> {
    const want = new Set(variants);
    return [...this.rows.values()].filter((r) => want.has(r.variant) && r.minute >= since);
  }
  async sweep(before: number): Promise<number> {
    let n = 0;
    for (const [k, r] of this.rows) if (r.minute < before && this.rows.delete(k)) n++;
    return n;
  }
}
