/**
 * @module Bearer-token check for the worker and hook endpoints (constant-time comparison).
 */
import type { MiddlewareHandler } from 'hono';
import { sameKey } from '../access/keys.ts';
import type { SharedAppEnv } from '../app-env.ts';
import { Unauthorized } from '../errors.ts';
import { bearer } from './auth.ts';

/** Requires `Authorization: Bearer <platform.workerToken>` (or `?token=` for notifiers without headers). */
export function requireWorkerToken(opts: { allowQuery?: boolean } = {}): MiddlewareHandler<SharedAppEnv> {
  return async (c, next) => {
    const given = bearer(c) ?? (opts.allowQuery ? (c.req.query('token') ?? null) : null);
    if (!given || !(await sameKey(given, c.var.platform.workerToken))) {
      throw new Unauthorized('A valid worker token is required (Authorization: Bearer <token>)');
    }
    await next();
  };
}
