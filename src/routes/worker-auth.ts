/**
 * @module Bearer-token check for the worker and hook endpoints (constant-time comparison).
 */
import type { MiddlewareHandler } from 'hono';
import { FlatgateError } from '../errors.ts';
import type { AppEnv } from '../app-env.ts';

/** A missing or wrong worker token. */
export class Unauthorized extends FlatgateError {
  readonly status = 401;
  constructor() {
    super('A valid worker token is required (Authorization: Bearer <token>)', 'invalid_worker_token');
  }
}

function sameText(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i % (a.length || 1)) || 0) ^ (b.charCodeAt(i % (b.length || 1)) || 0);
  return diff === 0;
}

/** Requires `Authorization: Bearer <platform.workerToken>` (or `?token=` for notifiers without headers). */
export function requireWorkerToken(opts: { allowQuery?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : opts.allowQuery ? (c.req.query('token') ?? '') : '';
    if (!given || !sameText(given, c.var.platform.workerToken)) throw new Unauthorized();
    await next();
  };
}
