/**
 * @module The API's description, in one table: every route's method, path, request schema (the zod
 * schema the route validates with), response schema and who may call it (its scope from the access
 * table). From it, @hono/zod-openapi builds the OpenAPI 3 document served at `/openapi.json`, and
 * `/docs` shows it. Scalar's page (@scalar/hono-api-reference) loads its script from a CDN, which a
 * gateway offline cannot reach, so `/docs` is a small self-contained page instead.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env.ts';
import { scopeOf } from './auth.ts';
import { DOCS_PAGE } from './openapi-page.ts';
import * as res from './openapi-schemas.ts';
import { benchmarkRequest, chatRequest, completionRequest, criteriaRequest, detokenizeRequest, routeRequest, tokenizeRequest } from './schemas.ts';
import { summaryBeforeSchema, summaryReadSchema, summaryUpsertSchema } from './summaries.ts';
import { benchmarkLatestSchema, benchmarkResultSchema } from './benchmarks.ts';

/** One documented route. `path` is written as Hono writes it (`/v1/models/:id`). */
export interface ApiRoute {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  summary: string;
  /** JSON body schema. */
  body?: z.ZodType;
  /** Non-JSON body: its content types. */
  rawBody?: string[];
  query?: z.ZodObject;
  /** 200 JSON schema; or the content type of a non-JSON answer. */
  response?: z.ZodType | string;
  /** Who calls it: an API key (scope from the access table), the worker token, or anyone. */
  caller: 'key' | 'worker' | 'anyone';
}

const json = (description: string) => ({ description });
const windowQuery = z.object({ window: z.string().optional(), format: z.enum(['json', 'html']).optional() });

/** Every route of the Node and Worker apps. */
export const API_ROUTES: ApiRoute[] = [
  { method: 'get', path: '/health', summary: 'Liveness', caller: 'anyone', response: z.object({ status: z.string() }) },
  { method: 'get', path: '/openapi.json', summary: 'This document', caller: 'anyone', response: res.anyObject },
  { method: 'get', path: '/docs', summary: 'A page that shows this document', caller: 'anyone', response: 'text/html' },
  { method: 'get', path: '/metrics', summary: "Prometheus text, vLLM's metric families under flatgate:", caller: 'key', response: 'text/plain' },
  { method: 'post', path: '/v1/completions', summary: 'Text completion (prompt: text, texts, token ids or lists of them); SSE with stream', caller: 'key', body: completionRequest, response: res.completionResponse },
  { method: 'post', path: '/v1/chat/completions', summary: 'Chat completion; SSE with stream', caller: 'key', body: chatRequest, response: res.chatResponse },
  { method: 'get', path: '/tokenizer_info', summary: "vLLM's tokenizer info", caller: 'key', query: z.object({ model: z.string().optional() }), response: res.tokenizerInfo },
  { method: 'post', path: '/tokenize', summary: "vLLM's tokenize (a prompt, or chat messages)", caller: 'key', body: tokenizeRequest, response: res.tokenizeResponse },
  { method: 'post', path: '/detokenize', summary: "vLLM's detokenize", caller: 'key', body: detokenizeRequest, response: res.detokenizeResponse },
  { method: 'get', path: '/v1/models', summary: 'Originals and variants', caller: 'key', response: res.modelList },
  { method: 'get', path: '/v1/models/:id', summary: 'A model (name, name:variant or name:original), id as asked', caller: 'key', response: res.modelDetails },
  { method: 'delete', path: '/v1/models/:id', summary: 'Delete an uploaded model you own', caller: 'key', response: res.anyObject },
  { method: 'put', path: '/v1/models/:id/criteria', summary: "Set the verdict criteria of an uploaded model you own", caller: 'key', body: criteriaRequest, response: res.anyObject },
  { method: 'put', path: '/v1/models/:id/route', summary: 'Set the A/B split and shadow rate, or auto_promote by the verdicts', caller: 'key', body: routeRequest, response: res.anyObject },
  { method: 'get', path: '/v1/models/:id/route', summary: 'The A/B split', caller: 'key', response: res.anyObject },
  { method: 'delete', path: '/v1/models/:id/route', summary: 'Remove the A/B split', caller: 'key', response: res.anyObject },
  { method: 'get', path: '/v1/models/:id/comparison', summary: 'Variants side by side (JSON, or HTML)', caller: 'key', query: windowQuery, response: res.anyObject },
  { method: 'get', path: '/models/:id/comparison', summary: 'The comparison page', caller: 'key', query: windowQuery, response: 'text/html' },
  { method: 'post', path: '/v1/models/:id/benchmark', summary: 'The same fixed load on each variant', caller: 'key', body: benchmarkRequest, response: res.anyObject },
  { method: 'post', path: '/v1/uploads', summary: 'Upload a model (.tar/.tar.gz or llama2.c .bin + tokenizer), ?name=', caller: 'key', rawBody: ['application/gzip', 'application/x-tar', 'multipart/form-data'], query: z.object({ name: z.string() }), response: res.anyObject },
  { method: 'post', path: '/v1/uploads/multipart', summary: 'Start a presigned multipart upload', caller: 'key', body: res.anyObject, response: res.anyObject },
  { method: 'post', path: '/v1/uploads/multipart/:id/complete', summary: 'Complete a presigned multipart upload', caller: 'key', body: res.anyObject, response: res.anyObject },
  { method: 'get', path: '/v1/jobs/:id', summary: "A compression job's status", caller: 'key', response: res.anyObject },
  { method: 'post', path: '/v1/hooks/s3', summary: 'S3 event notifications for uploads/', caller: 'worker', body: res.anyObject, response: res.anyObject },
  { method: 'post', path: '/v1/hooks/r2', summary: 'R2 event notifications for uploads/ (Worker)', caller: 'worker', body: res.anyObject, response: res.anyObject },
  { method: 'post', path: '/v1/worker/claim', summary: 'Claim a compression job', caller: 'worker', body: res.anyObject, response: res.anyObject },
  { method: 'post', path: '/v1/worker/jobs/:id/heartbeat', summary: "Extend a job's lease", caller: 'worker', body: res.anyObject, response: res.anyObject },
  { method: 'post', path: '/v1/worker/jobs/:id/progress', summary: "Report a job's progress", caller: 'worker', body: res.anyObject, response: res.anyObject },
  { method: 'post', path: '/v1/worker/jobs/:id/complete', summary: 'Report a finished job and its variants', caller: 'worker', body: res.anyObject, response: res.anyObject },
  { method: 'post', path: '/v1/worker/jobs/:id/fail', summary: 'Report a failed job', caller: 'worker', body: res.anyObject, response: res.anyObject },
  { method: 'post', path: '/v1/worker/serve', summary: 'A serving container announces the variants it serves', caller: 'worker', body: res.anyObject, response: res.anyObject },
  { method: 'post', path: '/v1/worker/summaries', summary: "A serving node upserts its per-minute request summaries (at most 500 rows)", caller: 'worker', body: summaryUpsertSchema, response: res.anyObject },
  { method: 'post', path: '/v1/worker/summaries/read', summary: "Every gateway's summary rows of some variants since a minute, a page at a time", caller: 'worker', body: summaryReadSchema, response: res.anyObject },
  { method: 'post', path: '/v1/worker/summaries/sweep', summary: 'Drop summary rows older than a time (never within 25 hours)', caller: 'worker', body: summaryBeforeSchema, response: res.anyObject },
  { method: 'post', path: '/v1/worker/summaries/compact', summary: 'Roll closed hours of summaries up (a bounded number per call)', caller: 'worker', body: summaryBeforeSchema, response: res.anyObject },
  { method: 'post', path: '/v1/worker/benchmarks', summary: "A serving node saves a matched-workload benchmark of an uploaded model's ready variants", caller: 'worker', body: benchmarkResultSchema, response: res.anyObject },
  { method: 'post', path: '/v1/worker/benchmarks/latest', summary: 'The latest saved benchmark of a model (null when none)', caller: 'worker', body: benchmarkLatestSchema, response: res.anyObject },
];

/** `/v1/models/:id` -> `/v1/models/{id}`. */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z_]+)/g, '{$1}');

/**
 * The OpenAPI 3.0 document of {@link API_ROUTES}.
 * @example const doc = openApiDocument(); doc.paths['/v1/completions'].post
 */
export function openApiDocument(): ReturnType<OpenAPIHono['getOpenAPIDocument']> {
  const api = new OpenAPIHono();
  const registry = api.openAPIRegistry;
  registry.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer', description: 'An API key (fg-...) with the scope the route names' });
  registry.registerComponent('securitySchemes', 'workerToken', { type: 'http', scheme: 'bearer', description: 'FLATGATE_WORKER_TOKEN' });
  const error = registry.register('Error', res.errorBody);
  for (const r of API_ROUTES) {
    const names = [...r.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]);
    const params = names.length ? z.object(Object.fromEntries(names.map((n) => [n, z.string()]))) : undefined;
    const scope = r.caller === 'key' ? scopeOf(r.method.toUpperCase(), r.path.replace(/:[A-Za-z_]+/g, 'x')) : null;
    const ok = typeof r.response === 'string' ? { content: { [r.response]: { schema: z.string() } } } : r.response ? { content: { 'application/json': { schema: r.response } } } : {};
    registry.registerPath({
      method: r.method,
      path: openApiPath(r.path),
      summary: r.summary,
      description: r.caller === 'key' ? `Needs an API key${scope ? ` with scope \`${scope}\`` : ''}.` : r.caller === 'worker' ? 'Needs the worker token.' : 'Open.',
      tags: [r.caller === 'worker' ? 'workers' : r.path.startsWith('/v1') || r.path.startsWith('/models') ? 'api' : 'server'],
      security: r.caller === 'key' ? [{ apiKey: [] }] : r.caller === 'worker' ? [{ workerToken: [] }] : [],
      request: {
        ...(params ? { params } : {}),
        ...(r.query ? { query: r.query } : {}),
        ...(r.body ? { body: { content: { 'application/json': { schema: r.body } }, required: true } } : {}),
        ...(r.rawBody ? { body: { content: Object.fromEntries(r.rawBody.map((t) => [t, { schema: z.string() }])), required: true } } : {}),
      },
      responses: { 200: { ...json('Success'), ...ok }, default: { description: "OpenAI's error shape", content: { 'application/json': { schema: error } } } },
    });
  }
  return api.getOpenAPIDocument({ openapi: '3.0.3', info: { title: 'flatgate', version: '0.1.0', description: 'OpenAI-compatible inference gateway serving original and FlattenGPT-compressed variants side by side.' } });
}

/** `/openapi.json` and `/docs`. The document is built once, on first request. */
export function openApiRoute(): Hono<AppEnv> {
  let doc: string | null = null;
  return new Hono<AppEnv>()
    .get('/openapi.json', (c) => {
      doc ??= JSON.stringify(openApiDocument());
      return c.body(doc, 200, { 'content-type': 'application/json' });
    })
    .get('/docs', (c) => c.html(DOCS_PAGE));
}
