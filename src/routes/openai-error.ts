/**
 * @module The one mapping from errors to OpenAI's error shape `{error:{message,type,param,code}}`.
 * Unknown errors become a 500 with a fixed message; their cause is logged, never sent.
 */
import type { Env, Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { FlatgateError } from '../errors.ts';

/** OpenAI's error body. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const STATUS_BY_TYPE: Record<string, ContentfulStatusCode> = {
  invalid_request_error: 400,
  not_found_error: 404,
  rate_limit_error: 429,
  server_error: 500,
};

/**
 * Status and body for `err`.
 * @example toOpenAIError(new ModelNotFound('x')) // { status: 404, body: { error: { ... } } }
 */
export function toOpenAIError(err: unknown): { status: ContentfulStatusCode; body: OpenAIErrorBody } {
  if (err instanceof FlatgateError) {
    const status = (err as { status?: ContentfulStatusCode }).status ?? STATUS_BY_TYPE[err.type] ?? 500;
    // server errors keep their message only when it was written for the client (503 not ready)
    const message = status === 500 ? 'The server had an error while processing your request' : err.message;
    return { status, body: { error: { message, type: err.type, param: err.param, code: err.code } } };
  }
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const type = status === 404 ? 'not_found_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
    return { status, body: { error: { message: err.message || 'Bad request', type, param: null, code: null } } };
  }
  return {
    status: 500,
    body: { error: { message: 'The server had an error while processing your request', type: 'server_error', param: null, code: null } },
  };
}

/**
 * Registers the one not-found and error handler on `app`: every error leaves in OpenAI's shape, server
 * errors are logged (never sent), and an oversize body's connection is closed, since the rest of that
 * body is never read and a client must not reuse the socket.
 */
export function handleErrorsAsOpenAI<E extends Env>(app: Hono<E>, log: (msg: string, err?: unknown) => void): void {
  app.notFound((c) => c.json({ error: { message: `No route for ${c.req.method} ${c.req.path}`, type: 'not_found_error', param: null, code: null } }, 404));
  app.onError((err, c) => {
    const { status, body } = toOpenAIError(err);
    if (status >= 500) log(`${c.req.method} ${c.req.path} failed`, err);
    if (status === 413) c.header('connection', 'close');
    const retryAfter = (err as { retryAfter?: unknown }).retryAfter;
    if (status === 429 && typeof retryAfter === 'number' && retryAfter > 0) c.header('retry-after', String(Math.ceil(retryAfter)));
    return c.json(body, status);
  });
}
