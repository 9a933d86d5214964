/**
 * @module Comparison read benchmark: how long one comparison takes to read and merge its summaries from
 * a libsql file, for 5 min / 1 h / 24 h windows of continuous traffic (every minute, every variant, every
 * gateway has rows). Synthetic requests (log-normal latencies) are recorded through SummaryRecorder, so the
 * rows are the real ones. Run with `npm run bench:comparison [-- --gateways 3 --hours 24 --per-minute 60]`.
 * Writes bench/results/comparison-read.json.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openLibsql } from '../src/db/open-libsql.ts';
import { dbSummaryStore } from '../src/db/queries/request-summaries.ts';
import { mergeRows, timeSeries } from '../src/serving/summary-read.ts';
import { MINUTE_MS, SummaryRecorder } from '../src/serving/summaries.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const GATEWAYS = Number(arg('gateways', '3'));
const HOURS = Number(arg('hours', '24'));
const PER_MINUTE = Number(arg('per-minute', '60'));
const VARIANTS = ['m', 'm:flattengpt-20'];

let seed = 1;
const rand = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

const dir = await mkdtemp(join(tmpdir(), 'fg-bench-cmp-'));
const { db, close } = await openLibsql(`file:${join(dir, 'db.sqlite')}`);
const store = dbSummaryStore(db);
const end = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
const start = end - HOURS * 60 * MINUTE_MS;
const t0 = performance.now();
for (let g = 0; g < GATEWAYS; g++) {
  let now = start;
  const rec = new SummaryRecorder(store, `gw-${g}`, 366 * 86_400_000, () => now);
  for (let minute = start; minute < end; minute += MINUTE_MS) {
    for (let i = 0; i < PER_MINUTE; i++) {
      now = minute + (i * MINUTE_MS) / PER_MINUTE;
      const tokens = 1 + Math.floor(rand() * 64);
      const ttft = 0.03 * Math.exp(0.6 * normal());
      const itl = Array.from({ length: tokens - 1 }, () => 0.012 * Math.exp(0.3 * normal()));
      rec.sample({ model: 'm', variant: VARIANTS[i % VARIANTS.length], at: now, queue: 0.001 * rand(), ttft, itl, e2e: ttft + itl.reduce((a, b) => a + b, 0), promptTokens: 1 + Math.floor(rand() * 400), completionTokens: tokens });
    }
    now = minute + MINUTE_MS;
    await rec.flush();
  }
}
const writeSeconds = (performance.now() - t0) / 1000;

const results = [];
for (const [label, seconds] of [['5 min', 300], ['1 h', 3600], ['24 h', 86_400]] as const) {
  if (seconds > HOURS * 3600) continue;
  const since = end - seconds * 1000;
  const times: number[] = [];
  let rows = 0;
  for (let rep = 0; rep < 3; rep++) {
    const t = performance.now();
    const got = await store.read(VARIANTS, since);
    mergeRows(got);
    timeSeries(got, since, end, Math.max(1, Math.ceil(seconds / 3600)) * MINUTE_MS);
    times.push(performance.now() - t);
    rows = got.length;
  }
  results.push({ window: label, rows, best_ms: Math.round(Math.min(...times)) });
}
close();
await rm(dir, { recursive: true, force: true });

console.log(`gateways ${GATEWAYS}, ${HOURS} h, ${PER_MINUTE} requests/min, ${VARIANTS.length} variants; writing took ${writeSeconds.toFixed(1)} s`);
console.log('| window | rows read | read + merge (best of 3) |\n|---|---|---|');
for (const r of results) console.log(`| ${r.window} | ${r.rows} | ${r.best_ms} ms |`);
await mkdir(join(HERE, 'results'), { recursive: true });
await writeFile(join(HERE, 'results', 'comparison-read.json'), JSON.stringify({ gateways: GATEWAYS, hours: HOURS, per_minute: PER_MINUTE, cpus: cpus().length, loadavg: loadavg(), results }, null, 2) + '\n');
