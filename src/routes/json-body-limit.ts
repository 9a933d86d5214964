/**
 * @module The request-size limit of the JSON endpoints, shared by the Node and Worker apps. Uploads are
 * not among them: they stream their bodies and have their own limit.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { PayloadTooLarge } from '../errors.ts';

/** Paths whose bodies are JSON; a trailing `/*` matches everything below. */
export const JSON_PATHS = [
  '/v1/completions',
  '/v1/chat/completions',
  '/v1/models/*',
  '/v1/worker/*',
  '/v1/hooks/*',
  '/v1/uploads/multipart',
  '/v1/uploads/multipart/*',
  '/tokenize',
  '/detokenize',
];

const isJsonPath = (path: string) => JSON_PATHS.some((p) => (p.endsWith('/*') ? path.startsWith(p.slice(0, -1)) : path === p));

/** Limits JSON bodies to `maxBytes(c)` bytes, answering 413 in OpenAI's shape above it. */
export function jsonBodyLimit(maxBytes: (c: Context) => number): MiddlewareHandler {
  return (c, next) => {
    if (!isJsonPath(c.req.path)) return next();
    const maxSize = maxBytes(c);
    return bodyLimit({ maxSize, onError: () => { throw new PayloadTooLarge(maxSize); } })(c, next);
  };
}
