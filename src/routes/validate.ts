/**
 * @module JSON body parsing with a zod schema; every failure becomes one InvalidRequest naming the field.
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import { InvalidRequest } from '../errors.ts';

/** Parses the request body as JSON and validates it. */
export async function parseJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new InvalidRequest('The request body is not valid JSON');
  }
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    const param = issue.path.join('.') || null;
    throw new InvalidRequest(`Invalid ${param ?? 'body'}: ${issue.message}`, param);
  }
  return r.data;
}
