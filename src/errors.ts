/**
 * @module Typed errors. Lower layers throw these (or their own subclasses); the HTTP edge maps them to
 * OpenAI's error shape once, and the CLI prints `message` as one line.
 */

/** OpenAI error `type` values we use. */
export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error';

/** Base class of every error flatgate throws on purpose. */
export class FlatgateError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly type: OpenAIErrorType = 'invalid_request_error',
    readonly param: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A model file or folder that cannot be read as a valid checkpoint (truncated, lying header, bad config). */
export class InvalidModelFile extends FlatgateError {
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, 'invalid_model_file', 'invalid_request_error', null, options);
  }
}

/** A model that uses something flatgate does not support (architecture, dtype, rope scaling...). */
export class UnsupportedModel extends FlatgateError {
  constructor(message: string) {
    super(message, 'unsupported_model');
  }
}

/** A request or command argument that is invalid. */
export class InvalidRequest extends FlatgateError {
  constructor(message: string, param: string | null = null) {
    super(message, 'invalid_request', 'invalid_request_error', param);
  }
}

/** An unknown model id. */
export class ModelNotFound extends FlatgateError {
  constructor(id: string) {
    super(`The model '${id}' does not exist`, 'model_not_found', 'not_found_error', 'model');
  }
}

/** Too many requests queued for a variant (HTTP 429); `retryAfter` seconds go out as `Retry-After`. */
export class Overloaded extends FlatgateError {
  readonly status = 429;
  constructor(
    message: string,
    readonly retryAfter = 1,
    code = 'overloaded',
  ) {
    super(message, code, 'rate_limit_error');
  }
}

/** A key over its request rate limit (HTTP 429, OpenAI's `rate_limit_exceeded`, with `Retry-After`). */
export class RateLimited extends Overloaded {
  constructor(message: string, retryAfter: number) {
    super(message, retryAfter, 'rate_limit_exceeded');
  }
}

/** The client went away before its request was read (HTTP 499 in logs; nobody receives the answer). */
export class ClientClosedRequest extends FlatgateError {
  readonly status = 499;
  constructor() {
    super('The client closed the connection before the request was complete', 'client_closed_request');
  }
}

/** A model that exists but cannot serve yet, e.g. a variant still compressing (HTTP 503). */
export class VariantNotReady extends FlatgateError {
  readonly status = 503;
  constructor(id: string, state: string) {
    super(`The model '${id}' is not ready (${state})`, 'model_not_ready', 'server_error', 'model');
  }
}

/** A request body over the size limit (HTTP 413). */
export class PayloadTooLarge extends FlatgateError {
  readonly status = 413;
  constructor(limit: number) {
    super(`The request body is larger than ${limit} bytes`, 'request_too_large');
  }
}

/** A missing, unknown or revoked API key (HTTP 401). */
export class Unauthorized extends FlatgateError {
  readonly status = 401;
  constructor(message = 'A valid API key is required: send it as Authorization: Bearer <key>') {
    super(message, 'invalid_api_key', 'authentication_error');
  }
}

/** A valid key without the scope a route needs (HTTP 403). */
export class Forbidden extends FlatgateError {
  readonly status = 403;
  constructor(scope: string) {
    super(`This API key lacks the '${scope}' scope`, 'insufficient_scope', 'permission_error');
  }
}

/** An API key over its upload quota (HTTP 429). */
export class QuotaExceeded extends FlatgateError {
  readonly status = 429;
  constructor(quota: number) {
    super(`This upload would take the API key over its upload quota of ${quota} bytes`, 'quota_exceeded', 'rate_limit_error');
  }
}
