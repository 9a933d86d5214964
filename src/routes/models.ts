/**
 * @module GET /v1/models and GET /v1/models/:id in OpenAI's list shape.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import type { ServedModel } from '../serving/model-pool.ts';

function card(m: ServedModel) {
  return { id: m.id, object: 'model', created: m.created, owned_by: 'flatgate', parent: null };
}

/** The models router. */
export const modelsRoute = new Hono<AppEnv>()
  .get('/v1/models', (c) => c.json({ object: 'list', data: c.var.pool.list().map(card) }))
  .get('/v1/models/:id', (c) => c.json(card(c.var.pool.get(c.req.param('id')))));
