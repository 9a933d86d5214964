/**
 * @module Per-key request rate limits: a token bucket per key, refilled continuously, `limit` requests
 * a minute with bursts up to `limit`.
 */

/**
 * @example const limiter = new RateLimiter(); if (!limiter.take(key.id, key.rateLimit)) throw new Overloaded(...)
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Takes one request from `id`'s bucket; false when it is empty. `limit` 0 means unlimited. */
  take(id: string, limit: number): boolean {
    if (limit <= 0) return true;
    const t = this.now();
    const b = this.buckets.get(id) ?? { tokens: limit, at: t };
    b.tokens = Math.min(limit, b.tokens + ((t - b.at) / 60_000) * limit);
    b.at = t;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(id, b);
    return ok;
  }

  /** Seconds until `id`'s bucket holds a whole request again (0 when it does now). */
  wait(id: string, limit: number): number {
    const b = this.buckets.get(id);
    if (limit <= 0 || !b || b.tokens >= 1) return 0;
    return ((1 - b.tokens) * 60) / limit;
  }
}
