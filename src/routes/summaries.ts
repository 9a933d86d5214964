/**
 * @module The summary store as worker endpoints (worker token): serving nodes without the database (the
 * Cloudflare serving containers) upsert their per-minute request summaries here and read every
 * gateway's rows back, so the database stays the one truth of the comparison. Sweeping and compaction
 * run here, beside the table, with the same merge as everywhere. Every field is checked: the payload is
 * hostile until it is.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { SharedAppEnv } from '../app-env.ts';
import { compactSummaries, readSummaryPage, sweepSummaries, upsertSummaries } from '../db/queries/request-summaries.ts';
import { InvalidRequest } from '../errors.ts';
import { storedSketchCount } from '../serving/sketch-codec.ts';
import { COMPACT_AFTER_MS, HOUR_MS, mergeHour, MINUTE_MS, ROLLUP_GATEWAY, SUMMARY_CALL_LIMITS as LIMITS } from '../serving/summaries.ts';
import { parseJson } from './validate.ts';
import { requireWorkerToken } from './worker-auth.ts';

/** How far ahead of this clock a minute may be (other clocks drift). */
const FUTURE_SLACK_MS = 15 * MINUTE_MS;
/** The shortest retention a sweep may ask for (config: FLATGATE_SUMMARY_RETENTION_HOURS >= 25). */
const MIN_RETENTION_MS = 25 * HOUR_MS;

/** The first minute no compaction has reached at `now`: rows before it may be rolled up already. */
const compactedBefore = (now: number) => Math.floor((now - COMPACT_AFTER_MS) / HOUR_MS) * HOUR_MS;

const name = (max: number) => z.string().min(1).max(max).regex(/^[^\u0000-\u001f\u007f]+$/, 'must hold no control characters');
const unixMs = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** One row as a gateway writes it (never a rollup: those are the store's own). */
export const summaryRowSchema = z
  .object({
    gateway: name(200).refine((g) => g !== ROLLUP_GATEWAY, `'${ROLLUP_GATEWAY}' is the rollups' gateway`),
    minute: unixMs.refine((m) => m % MINUTE_MS === 0, 'must be the start of a minute (Unix ms)'),
    variant: name(300),
    measure: name(400),
    count: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    // every measure adds non-negative values (seconds, tokens, rates, agreement)
    sum: z.number().min(0),
    sketch: z.string().max(LIMITS.sketchChars).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64').nullable(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.sketch === null) return;
    const n = storedSketchCount(r.sketch);
    if (n === null) ctx.addIssue({ code: 'custom', path: ['sketch'], message: 'is not a DDSketch of the summaries\' mapping' });
    else if (n !== r.count) ctx.addIssue({ code: 'custom', path: ['sketch'], message: `holds ${n} values, not count (${r.count})` });
  });

export const summaryUpsertSchema = z.object({ rows: z.array(summaryRowSchema).min(1).max(LIMITS.upsertRows) }).strict();

/** The cursor of a page read: where the previous page of that variant ended. */
const cursorSchema = z.object({ minute: unixMs, rowid: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).strict();

export const summaryReadSchema = z
  .object({
    variants: z.array(name(300)).min(1).max(LIMITS.readVariants),
    since: unixMs,
    /** Per variant, where its previous page ended (null or absent: at `since`); a variant that is done is not asked for again. */
    after: z.record(z.string(), cursorSchema.nullable()).optional(),
  })
  .strict();

export const summaryBeforeSchema = z.object({ before: unixMs }).strict();

/** The summary endpoints. */
export const summariesRoute = new Hono<SharedAppEnv>();

summariesRoute.use('/v1/worker/summaries', requireWorkerToken());
summariesRoute.use('/v1/worker/summaries/*', requireWorkerToken());

/** Inserts or replaces a gateway's rows (one batch: all or none). */
summariesRoute.post('/v1/worker/summaries', async (c) => {
  const { rows } = await parseJson(c, summaryUpsertSchema);
  const now = Date.now();
  // a minute whose hour may be rolled up already would be counted twice; one from the future is a bad clock
  const oldest = compactedBefore(now);
  const bad = rows.findIndex((r) => r.minute < oldest || r.minute > now + FUTURE_SLACK_MS);
  if (bad >= 0) throw new InvalidRequest(`Invalid rows.${bad}.minute: must lie in [${oldest}, now + ${FUTURE_SLACK_MS / MINUTE_MS} min]; older hours may be compacted already`, `rows.${bad}.minute`);
  await upsertSummaries(c.var.platform.db, rows, now);
  return c.json({ object: 'summaries.upsert', rows: rows.length });
});

/**
 * A page of every gateway's rows of `variants` since `since`: up to pageRows rows in all, variant by
 * variant in (minute, rowid) order; `next` holds, for each variant not yet done, where to go on (null:
 * not started), or is null when the read is complete.
 */
summariesRoute.post('/v1/worker/summaries/read', async (c) => {
  const { variants, since, after = {} } = await parseJson(c, summaryReadSchema);
  // own keys only: a variant named like an Object.prototype member must not find one
  const from = (variant: string) => (Object.hasOwn(after, variant) ? (after[variant] ?? null) : null);
  const rows = [];
  const next = new Map<string, { minute: number; rowid: number } | null>();
  let budget: number = LIMITS.pageRows;
  for (const variant of new Set(variants)) {
    if (budget === 0) {
      next.set(variant, from(variant));
      continue;
    }
    const page = await readSummaryPage(c.var.platform.db, variant, since, from(variant), budget);
    rows.push(...page.rows);
    budget -= page.rows.length;
    if (page.next) next.set(variant, page.next);
  }
  return c.json({ object: 'summaries.page', rows, next: next.size ? Object.fromEntries(next) : null });
});

/** Drops rows of minutes before `before`, but never within the shortest retention. */
summariesRoute.post('/v1/worker/summaries/sweep', async (c) => {
  const { before } = await parseJson(c, summaryBeforeSchema);
  const deleted = await sweepSummaries(c.var.platform.db, Math.min(before, Date.now() - MIN_RETENTION_MS));
  return c.json({ object: 'summaries.sweep', deleted });
});

/**
 * Rolls closed hours up into one row per variant and measure (mergeHour, what every gateway uses), never
 * an hour a gateway may still write; a bounded number of (hour, variant) pairs per call.
 */
summariesRoute.post('/v1/worker/summaries/compact', async (c) => {
  const { before } = await parseJson(c, summaryBeforeSchema);
  const compacted = await compactSummaries(c.var.platform.db, Math.min(before, compactedBefore(Date.now())), ROLLUP_GATEWAY, mergeHour, LIMITS.compactPairs);
  return c.json({ object: 'summaries.compact', compacted });
});
