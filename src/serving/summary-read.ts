/**
 * @module Reading summaries back: every gateway's rows of a window merged per variant and measure (counts
 * and sums added exactly, sketches merged), and per time bucket for the comparison's time axis.
 */
import type { DDSketch } from '@datadog/sketches-js';
import { mergeEncoded, MINUTE_MS, newSketch, type SummaryRow } from './summaries.ts';

/** One measure merged over gateways and minutes. */
export interface Merged {
  count: number;
  sum: number;
  sketch: DDSketch | null;
}

/** Merged measures of one variant. */
export type MergedMeasures = Map<string, Merged>;

function mergeInto(target: Map<string, Merged>, r: SummaryRow): void {
  let m = target.get(r.measure);
  if (!m) {
    m = { count: 0, sum: 0, sketch: r.sketch === null ? null : newSketch() };
    target.set(r.measure, m);
  }
  m.count += r.count;
  m.sum += r.sum;
  if (r.sketch !== null) {
    m.sketch ??= newSketch();
    mergeEncoded(m.sketch, r.sketch);
  }
}

/**
 * Merges rows per variant, restricted to measures `keep` accepts.
 * @example const byVariant = mergeRows(await store.read(ids, since));
 */
export function mergeRows(rows: readonly SummaryRow[], keep: (measure: string) => boolean = () => true): Map<string, MergedMeasures> {
  const out = new Map<string, MergedMeasures>();
  for (const r of rows) {
    if (!keep(r.measure)) continue;
    let v = out.get(r.variant);
    if (!v) out.set(r.variant, (v = new Map()));
    mergeInto(v, r);
  }
  return out;
}

/** p50/p95/p99 and the count of a merged sketch (null percentiles when empty). */
export function sketchPercentiles(m: Merged | undefined): { p50: number | null; p95: number | null; p99: number | null; n: number } {
  const s = m?.sketch;
  if (!s || s.count === 0) return { p50: null, p95: null, p99: null, n: m?.count ?? 0 };
  return { p50: s.getValueAtQuantile(0.5), p95: s.getValueAtQuantile(0.95), p99: s.getValueAtQuantile(0.99), n: m!.count };
}

/** The distribution as [value, cumulative fraction] points at every percent, for CDF plots. */
export function cdfPoints(m: Merged | undefined): [number, number][] {
  const s = m?.sketch;
  if (!s || s.count === 0) return [];
  const out: [number, number][] = [];
  for (let i = 0; i <= 100; i++) {
    const q = i / 100;
    out.push([s.getValueAtQuantile(q), q]);
  }
  return out;
}

/** One point of the time axis. */
export interface TimePoint {
  /** Unix ms of the bucket's start. */
  t: number;
  requests: number;
  errors: number;
  ttft_p50: number | null;
  e2e_p50: number | null;
  e2e_p95: number | null;
  itl_p50: number | null;
}

/** The time axis with no traffic: every bucket of the window, empty. */
export function emptySeries(since: number, until: number, bucketMs: number): TimePoint[] {
  return timeSeries([], since, until, bucketMs).get('') ?? [];
}

const TIME_MEASURES = new Set(['requests', 'outcome:error', 'ttft', 'e2e', 'itl']);

/**
 * Per variant, the window cut into buckets of `bucketMs` (a whole number of minutes): requests, errors
 * and latency percentiles per bucket, empty buckets included.
 */
export function timeSeries(rows: readonly SummaryRow[], since: number, until: number, bucketMs: number): Map<string, TimePoint[]> {
  const start = Math.floor(since / MINUTE_MS) * MINUTE_MS;
  const n = Math.max(1, Math.ceil((until - start) / bucketMs));
  const cells = new Map<string, Map<number, Map<string, Merged>>>();
  for (const r of rows) {
    if (!TIME_MEASURES.has(r.measure) || r.minute < start) continue;
    const b = Math.min(n - 1, Math.floor((r.minute - start) / bucketMs));
    let v = cells.get(r.variant);
    if (!v) cells.set(r.variant, (v = new Map()));
    let c = v.get(b);
    if (!c) v.set(b, (c = new Map()));
    mergeInto(c, r);
  }
  const out = new Map<string, TimePoint[]>();
  if (cells.size === 0) cells.set('', new Map());
  for (const [variant, buckets] of cells) {
    const points: TimePoint[] = [];
    for (let b = 0; b < n; b++) {
      const c = buckets.get(b);
      const q = (measure: string, p: number) => {
        const s = c?.get(measure)?.sketch;
        return s && s.count > 0 ? s.getValueAtQuantile(p) : null;
      };
      points.push({ t: start + b * bucketMs, requests: c?.get('requests')?.count ?? 0, errors: c?.get('outcome:error')?.count ?? 0, ttft_p50: q('ttft', 0.5), e2e_p50: q('e2e', 0.5), e2e_p95: q('e2e', 0.95), itl_p50: q('itl', 0.5) });
    }
    out.set(variant, points);
  }
  return out;
}
