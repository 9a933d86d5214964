import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { InvalidModelFile, InvalidRequest, ModelNotFound } from '../errors.ts';
import { toOpenAIError } from './openai-error.ts';

describe('toOpenAIError', () => {
  const cases: [string, unknown, number, string, string | null][] = [
    ['invalid request', new InvalidRequest('max_tokens must be >= 0', 'max_tokens'), 400, 'invalid_request_error', 'max_tokens'],
    ['unknown model', new ModelNotFound('nope'), 404, 'not_found_error', 'model'],
    ['bad model file', new InvalidModelFile('x.bin', 'truncated'), 400, 'invalid_request_error', null],
    ['hono http exception', new HTTPException(413, { message: 'too large' }), 413, 'invalid_request_error', null],
    ['unknown error', new Error('secret internals'), 500, 'server_error', null],
  ];
  for (const [name, err, status, type, param] of cases) {
    it(name, () => {
      const r = toOpenAIError(err);
      expect(r.status).toBe(status);
      expect(r.body.error.type).toBe(type);
      expect(r.body.error.param).toBe(param);
      expect(Object.keys(r.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    });
  }
  it('never sends an unknown error message to the client', () => {
    expect(toOpenAIError(new Error('secret internals')).body.error.message).not.toContain('secret');
  });
});
