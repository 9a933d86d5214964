/**
 * @module Access control at the edge: every route's scope in one table, the Bearer key resolved to a
 * principal (the operator's admin key from the environment, or a key from the database), per-key rate
 * limits and upload quotas, and the ownership checks routes call.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { canManage, canUse, operatorPrincipal, principalOfKey, sameKey, type Principal, type Scope } from '../access/keys.ts';
import { RateLimiter } from '../access/rate-limit.ts';
import type { SharedAppEnv } from '../app-env.ts';
import type { Db } from '../db/client.ts';
import { Forbidden, ModelNotFound, RateLimited, Unauthorized } from '../errors.ts';

/** How the app authenticates. `open` lets everything through as the operator (local use only). */
export type AuthConfig = { mode: 'open' } | { mode: 'keys'; adminKey: string | null; db: Db | null };

/** [method, path pattern, scope]; the first match wins. Paths not listed need no key (health, 404s). */
const ROUTE_SCOPES: [string, RegExp, Scope][] = [
  ['POST', /^\/v1\/(chat\/)?completions$/, 'inference'],
  ['GET', /^\/v1\/models$/, 'inference'],
  ['GET', /^\/v1\/models\/[^/]+(\/comparison|\/route)?$/, 'inference'],
  ['GET', /^\/models\/[^/]+\/comparison$/, 'inference'],
  ['PUT', /^\/v1\/models\/[^/]+\/route$/, 'admin'],
  ['DELETE', /^\/v1\/models\/[^/]+\/route$/, 'admin'],
  ['POST', /^\/v1\/models\/[^/]+\/benchmark$/, 'admin'],
  ['DELETE', /^\/v1\/models\/[^/]+$/, 'upload'],
  ['PUT', /^\/v1\/models\/[^/]+\/criteria$/, 'upload'],
  ['POST', /^\/v1\/uploads(\/multipart(\/[^/]+\/complete)?)?$/, 'upload'],
  ['GET', /^\/v1\/jobs\/[^/]+$/, 'upload'],
  ['GET', /^\/metrics$/, 'admin'],
  ['GET', /^\/tokenizer_info$/, 'inference'],
  ['POST', /^\/(tokenize|detokenize)$/, 'inference'],
];

/** Pages a browser opens without a key: their script asks for one and sends it as a header. */
const KEYLESS_PAGES = /^\/models\/[^/]+\/comparison$/;

/** The key id of a browser that opened a keyless page without a key; it may see nothing. */
export const ANONYMOUS = 'anonymous';

/** Worker endpoints and the bucket hook check the worker token themselves. */
const WORKER_PATHS = /^\/v1\/(worker|hooks)\//;

/** The scope a request needs, or null when it needs no key. HEAD runs GET's handler, so it needs GET's scope. */
export function scopeOf(method: string, path: string): Scope | null {
  const m = method === 'HEAD' ? 'GET' : method;
  for (const [rm, re, scope] of ROUTE_SCOPES) if (rm === m && re.test(path)) return scope;
  return null;
}

/** Paths outside the scope table that still need a valid key (any scope): the API, never answered anonymously. */
const KEYED_PATHS = /^\/(v1|models|metrics)(\/|$)/;

/** The Bearer token of a request, or null. */
export function bearer(c: Context): string | null {
  const h = c.req.header('authorization');
  const m = h?.match(/^Bearer\s+(\S+)$/i);
  return m ? m[1] : null;
}

/**
 * The authentication middleware: sets `principal`, refuses missing, unknown, revoked and under-scoped
 * keys, and applies the key's rate limit.
 */
export function authenticate(config: AuthConfig, limiter = new RateLimiter()): MiddlewareHandler<SharedAppEnv> {
  const open = operatorPrincipal('open');
  return async (c, next) => {
    if (config.mode === 'open' || WORKER_PATHS.test(c.req.path)) {
      c.set('principal', open);
      return next();
    }
    const scope = scopeOf(c.req.method, c.req.path);
    if (scope === null && !KEYED_PATHS.test(c.req.path)) {
      c.set('principal', open);
      return next();
    }
    const key = bearer(c);
    if (!key && !c.req.header('authorization') && KEYLESS_PAGES.test(c.req.path) && (c.req.method === 'GET' || c.req.method === 'HEAD')) {
      c.set('principal', { keyId: ANONYMOUS, owner: ANONYMOUS, scopes: new Set(), rateLimit: 0, uploadQuota: 0, uploadedBytes: 0 });
      return next();
    }
    if (!key) throw new Unauthorized();
    let principal: Principal | null = null;
    if (config.adminKey && (await sameKey(key, config.adminKey))) principal = operatorPrincipal('admin');
    else if (config.db) principal = await principalOfKey(config.db, key);
    if (!principal) throw new Unauthorized('The API key is not valid (unknown or revoked)');
    if (scope !== null && !principal.scopes.has(scope) && !principal.scopes.has('admin')) throw new Forbidden(scope);
    if (!limiter.take(principal.keyId, principal.rateLimit)) {
      throw new RateLimited(`Rate limit of ${principal.rateLimit} requests per minute reached for this API key`, Math.max(1, Math.ceil(limiter.wait(principal.keyId, principal.rateLimit))));
    }
    c.set('principal', principal);
    return next();
  };
}

/** Whether the request is a browser on a keyless page without a key. */
export function isAnonymous(c: { var: { principal: Principal } }): boolean {
  return c.var.principal.keyId === ANONYMOUS && c.var.principal.scopes.size === 0;
}

/** Throws ModelNotFound (never revealing that it exists) unless the request may use a model of `owner`. */
export function assertCanUse(c: { var: { principal: Principal } }, id: string, owner: string | null | undefined): void {
  if (!canUse(c.var.principal, owner)) throw new ModelNotFound(id);
}

/** Throws ModelNotFound unless the request may change (route, delete) a model of `owner`. */
export function assertCanManage(c: { var: { principal: Principal } }, id: string, owner: string | null | undefined): void {
  if (!canManage(c.var.principal, owner)) throw new ModelNotFound(id);
}
