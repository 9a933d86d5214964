import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLibsql } from '../db/open-libsql.ts';
import { dbSummaryStore } from '../db/queries/request-summaries.ts';
import type { RequestSample } from './metrics.ts';
import { cdfPoints, mergeRows, sketchPercentiles, timeSeries } from './summary-read.ts';
import { decodeSketch, encodeSketch, HOUR_MS, lengthBucket, mergeEncoded, mergeHour, newSketch, MemorySummaryStore, MINUTE_MS, ROLLUP_GATEWAY, SummaryRecorder, WRITE_HORIZON_MS } from './summaries.ts';

/** A seeded generator (mulberry32), so the samples are the same on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The sample quantile DDSketch bounds: the value at rank floor(q (n - 1)) of the sorted sample. */
function exactQuantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))];
}

/** A heavy-tailed latency sample (log-normal around 50 ms) with its ITL gaps. */
function sample(r: () => number, at: number, variant: string): RequestSample {
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const ttft = 0.05 * Math.exp(0.8 * normal());
  const tokens = 1 + Math.floor(r() * 40);
  const itl = Array.from({ length: tokens - 1 }, () => 0.01 * Math.exp(0.5 * normal()));
  const queue = r() < 0.5 ? 0 : 0.002 * r();
  const scoring = r() < 0.2;
  return {
    model: 'm', variant, at, queue, ttft: scoring ? null : ttft + queue, itl: scoring ? [] : itl, e2e: queue + ttft + itl.reduce((a, b) => a + b, 0),
    promptTokens: 1 + Math.floor(r() * 300), completionTokens: scoring ? 0 : tokens, kind: scoring ? 'scoring' : 'generation', outcome: r() < 0.05 ? 'error' : 'ok',
  };
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('per-minute request summaries', () => {
  it('merging a stored sketch straight into another gives what the library\'s fromProto + merge give', () => {
    const r = rng(3);
    const fast = newSketch();
    const slow = newSketch();
    for (let k = 0; k < 20; k++) {
      const s = newSketch();
      for (let i = 0; i < 1 + k * 7; i++) s.accept(k % 5 === 0 && i % 3 === 0 ? 0 : 1e-4 * Math.exp(10 * r()));
      const text = encodeSketch(s);
      mergeEncoded(fast, text);
      slow.merge(decodeSketch(text));
    }
    expect(fast.count).toBe(slow.count);
    expect(fast.zeroCount).toBe(slow.zeroCount);
    for (let q = 0; q <= 1; q += 0.01) expect(fast.getValueAtQuantile(q)).toBe(slow.getValueAtQuantile(q));
  });

  it('buckets lengths', () => {
    expect([0, 1, 16, 17, 64, 65, 256, 1024, 1025].map(lengthBucket)).toEqual(['0', '1-16', '1-16', '17-64', '17-64', '65-256', '65-256', '257-1024', '1025+']);
  });

  it('two gateways on one database: counts and sums exact, percentiles within 1% of the exact sample quantiles, after a restart too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fg-summ-'));
    dirs.push(dir);
    const url = `file:${join(dir, 'db.sqlite')}`;
    const a = await openLibsql(url);
    const b = await openLibsql(url);
    const t0 = 1_700_000_000_000 - (1_700_000_000_000 % MINUTE_MS);
    let now = t0;
    const clock = () => now;
    const recA = new SummaryRecorder(dbSummaryStore(a.db), 'gw-a', 86_400_000, clock);
    const recB = new SummaryRecorder(dbSummaryStore(b.db), 'gw-b', 86_400_000, clock);
    const r = rng(7);
    const all: RequestSample[] = [];
    // 3 minutes of traffic on two variants through both gateways, flushed part-way through each minute
    for (let minute = 0; minute < 3; minute++) {
      for (let i = 0; i < 400; i++) {
        now = t0 + minute * MINUTE_MS + i * 100;
        const s = sample(r, now, i % 3 === 0 ? 'm:v' : 'm');
        all.push(s);
        (i % 2 === 0 ? recA : recB).sample(s);
        if (i === 200) await Promise.all([recA.flush(), recB.flush()]);
      }
    }
    recA.agreement('m', 'm:v', 0.75, 8);
    recB.agreement('m:v', 'm', 0.5, 4);
    await Promise.all([recA.flush(), recB.flush()]);
    a.close();
    b.close();

    // a fresh connection (a restarted gateway) sees everything
    const c = await openLibsql(url);
    const rows = await dbSummaryStore(c.db).read(['m', 'm:v'], t0);
    c.close();
    expect(new Set(rows.map((x) => x.gateway))).toEqual(new Set(['gw-a', 'gw-b']));
    const merged = mergeRows(rows);
    for (const variant of ['m', 'm:v']) {
      const mine = all.filter((s) => s.variant === variant);
      const ms = merged.get(variant)!;
      expect(ms.get('requests')!.count).toBe(mine.length);
      expect(ms.get('outcome:error')!.count).toBe(mine.filter((s) => s.outcome === 'error').length);
      expect(ms.get('kind:scoring')!.count).toBe(mine.filter((s) => s.kind === 'scoring').length);
      expect(ms.get('prompt_tokens')!.sum).toBe(mine.reduce((n, s) => n + s.promptTokens, 0));
      expect(ms.get('completion_tokens')!.sum).toBe(mine.reduce((n, s) => n + s.completionTokens, 0));
      const buckets = [...ms.keys()].filter((k) => k.startsWith('prompt:'));
      expect(buckets.reduce((n, k) => n + ms.get(k)!.count, 0)).toBe(mine.length);
      const ok = mine.filter((s) => s.outcome === 'ok');
      const values = { ttft: ok.flatMap((s) => (s.ttft === null ? [] : [s.ttft])), e2e: ok.map((s) => s.e2e), itl: ok.flatMap((s) => s.itl), queue: ok.map((s) => s.queue) };
      for (const [measure, xs] of Object.entries(values)) {
        const p = sketchPercentiles(ms.get(measure));
        expect(p.n).toBe(xs.length);
        for (const [q, got] of [[0.5, p.p50], [0.95, p.p95], [0.99, p.p99]] as const) {
          const want = exactQuantile(xs, q);
          if (want === 0) expect(got).toBe(0);
          else expect(Math.abs(got! / want - 1), `${variant} ${measure} p${q * 100}`).toBeLessThanOrEqual(0.01 + 1e-9);
        }
      }
      const cdf = cdfPoints(ms.get('e2e'));
      expect(cdf).toHaveLength(101);
      expect(cdf[0][1]).toBe(0);
      expect(cdf[100][1]).toBe(1);
      const series = timeSeries(rows, t0, t0 + 3 * MINUTE_MS, MINUTE_MS).get(variant)!;
      expect(series.map((pt) => pt.requests)).toEqual([0, 1, 2].map((m) => mine.filter((s) => Math.floor((s.at - t0) / MINUTE_MS) === m).length));
    }
    expect(merged.get('m:v')!.get('agreement@m')!.sum).toBe(6);
    expect(merged.get('m')!.get('agreement_tokens@m:v')!.sum).toBe(4);
  });

  it('flushes replace a gateway\'s own row, forgets closed minutes, retries after a failed write and sweeps old minutes', async () => {
    const store = new MemorySummaryStore();
    let fail = false;
    const flaky = { ...store, upsert: (rows: Parameters<typeof store.upsert>[0]) => (fail ? Promise.reject(new Error('db down')) : store.upsert(rows)), read: store.read.bind(store), sweep: store.sweep.bind(store) };
    let now = 10 * MINUTE_MS;
    const rec = new SummaryRecorder(flaky, 'gw', 2 * MINUTE_MS, () => now);
    const s = (at: number): RequestSample => ({ model: 'm', variant: 'm', at, queue: 0, ttft: 0.01, itl: [0.001], e2e: 0.02, promptTokens: 3, completionTokens: 2 });
    rec.sample(s(now));
    await rec.flush();
    rec.sample(s(now + 1));
    fail = true;
    await expect(rec.flush()).rejects.toThrow('db down');
    fail = false;
    now += MINUTE_MS;
    await rec.flush();
    const count = async (since = 0) => mergeRows(await store.read(['m'], since)).get('m')?.get('requests')?.count ?? 0;
    expect(await count()).toBe(2);
    expect(await store.read(['m'], 0)).toHaveLength(new Set((await store.read(['m'], 0)).map((r) => r.measure)).size);
    // the closed minute was forgotten: a new sample lands in a new row, the old one stays as written
    rec.sample(s(now));
    await rec.flush();
    expect(await count()).toBe(3);
    now += 11 * MINUTE_MS;
    await rec.flush();
    expect(await count()).toBe(0);
  });

  it('compacts closed hours into one row per variant and measure, exactly, once even when two gateways compact at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fg-summ-'));
    dirs.push(dir);
    const url = `file:${join(dir, 'db.sqlite')}`;
    const a = await openLibsql(url);
    const b = await openLibsql(url);
    const t0 = 1_700_000_000_000 - (1_700_000_000_000 % HOUR_MS);
    let now = t0;
    const recs = ['gw-a', 'gw-b'].map((g, i) => new SummaryRecorder(dbSummaryStore([a, b][i].db), g, 30 * 86_400_000, () => now));
    const r = rng(11);
    const all: RequestSample[] = [];
    // 3 hours, a request every 2 minutes on each gateway
    for (let m = 0; m < 180; m += 2) {
      now = t0 + m * MINUTE_MS;
      for (const rec of recs) {
        const s = sample(r, now, 'm');
        all.push(s);
        rec.sample(s);
      }
      now += MINUTE_MS;
      await Promise.all(recs.map((rec) => rec.flush()));
    }
    const before = await dbSummaryStore(a.db).read(['m'], 0);
    const exact = mergeRows(before).get('m')!;
    // two gateways compact the first two hours at the same time
    const cut = t0 + 2 * HOUR_MS;
    const counts = await Promise.all([dbSummaryStore(a.db).compact(cut, mergeHour), dbSummaryStore(b.db).compact(cut, mergeHour)]);
    expect(counts.every((n) => n >= 0)).toBe(true);
    const after = await dbSummaryStore(a.db).read(['m'], 0);
    expect(after.length).toBeLessThan(before.length / 2);
    expect(new Set(after.filter((x) => x.minute < cut).map((x) => x.gateway))).toEqual(new Set([ROLLUP_GATEWAY]));
    expect(after.filter((x) => x.minute < cut).every((x) => x.minute % HOUR_MS === 0)).toBe(true);
    const merged = mergeRows(after).get('m')!;
    for (const [measure, m] of exact) {
      expect(merged.get(measure)!.count, measure).toBe(m.count);
      expect(merged.get(measure)!.sum, measure).toBeCloseTo(m.sum, 9);
      if (m.sketch) for (const q of [0.5, 0.95, 0.99]) expect(merged.get(measure)!.sketch!.getValueAtQuantile(q)).toBe(m.sketch.getValueAtQuantile(q));
    }
    expect(merged.get('requests')!.count).toBe(all.length);
    const hours = timeSeries(after, t0, t0 + 3 * HOUR_MS, HOUR_MS).get('m')!;
    expect(hours.map((h) => h.requests)).toEqual([60, 60, 60]);
    // compacting again changes nothing; the retention sweep drops whole rolled-up hours
    await dbSummaryStore(b.db).compact(cut, mergeHour);
    expect(mergeRows(await dbSummaryStore(b.db).read(['m'], 0)).get('m')!.get('requests')!.count).toBe(all.length);
    await dbSummaryStore(b.db).sweep(t0 + HOUR_MS);
    expect(mergeRows(await dbSummaryStore(b.db).read(['m'], 0)).get('m')!.get('requests')!.count).toBe(all.length - 60);
    a.close();
    b.close();
  });

  it('drops a minute it could not write within the horizon rather than count it twice, and says how many requests went', async () => {
    const store = new MemorySummaryStore();
    let now = 100 * MINUTE_MS;
    let fail = true;
    const rec = new SummaryRecorder({ upsert: (rows) => (fail ? Promise.reject(new Error('down')) : store.upsert(rows)), read: store.read.bind(store), sweep: store.sweep.bind(store) }, 'gw', 86_400_000, () => now);
    const logged: string[] = [];
    rec.start(3_600_000, (msg) => logged.push(msg));
    const sample = (at: number) => ({ model: 'm', variant: 'm', at, queue: 0, ttft: null, itl: [], e2e: 0.1, promptTokens: 1, completionTokens: 0 });
    rec.sample(sample(now));
    // one request of the minute was written; two more that came after it were not
    fail = false;
    await rec.flush();
    fail = true;
    rec.sample(sample(now));
    rec.sample(sample(now));
    await expect(rec.flush()).rejects.toThrow('down');
    now += WRITE_HORIZON_MS + MINUTE_MS;
    fail = false;
    await rec.flush();
    expect(rec.dropped).toBe(2);
    expect(logged).toEqual([expect.stringContaining('dropped the summaries of 2 requests')]);
    rec.sample(sample(now));
    await rec.stop();
    expect(mergeRows(await store.read(['m'], 0)).get('m')!.get('requests')!.count).toBe(2);
  });
});
