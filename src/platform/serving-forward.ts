/**
 * @module Where inference runs for the Worker: the serving containers (a Durable Object per instance,
 * each model sticking to one instance so its weights stay loaded there), or a serving gateway at
 * `SERVING_URL` (dev, tests, or serving hosted elsewhere). onnxruntime-node cannot load in a Worker.
 */
import { FlatgateError } from '../errors.ts';
import type { CloudflareBindings } from './cloudflare.ts';

/** Neither a serving container binding nor SERVING_URL is configured (HTTP 503). */
export class ServingUnavailable extends FlatgateError {
  readonly status = 503;
  constructor() {
    super('Inference is not configured for this deployment (no serving container and no SERVING_URL)', 'serving_unavailable', 'server_error');
  }
}

/** The serving container or gateway could not be reached (HTTP 502). */
export class ServingUnreachable extends FlatgateError {
  readonly status = 502;
  constructor(cause: unknown) {
    super('The serving backend could not be reached; try again shortly', 'serving_unreachable', 'server_error', null, { cause });
  }
}

/** Sends a request to serving, keyed by model so that one model's requests reach one instance. */
export type ServingForward = (req: Request, model: string | null) => Promise<Response>;

/** FNV-1a: a stable, well-spread hash of the model id. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The forwarder of `env`: `SERVING_URL` when set, else the `SERVING` containers.
 * @example const res = await servingForward(env)(c.req.raw, 'tiny:flat-50');
 */
export function servingForward(env: CloudflareBindings): ServingForward {
  const base = typeof env.SERVING_URL === 'string' && env.SERVING_URL ? env.SERVING_URL.replace(/\/$/, '') : null;
  if (base) {
    return (req) => {
      const url = new URL(req.url);
      return fetch(new Request(`${base}${url.pathname}${url.search}`, req)).catch((err: unknown) => {
        throw new ServingUnreachable(err);
      });
    };
  }
  const ns = env.SERVING;
  if (!ns) return () => Promise.reject(new ServingUnavailable());
  const instances = Math.max(1, Number(env.SERVING_INSTANCES) || 1);
  return (req, model) => {
    const name = `serving-${fnv1a(model ?? '') % instances}`;
    // the stub's fetch takes workerd's Request type, which is the same object as the global one at run time
    const stub = ns.get(ns.idFromName(name)) as unknown as { fetch(req: Request): Promise<Response> };
    return stub.fetch(req).catch((err: unknown) => {
      throw new ServingUnreachable(err);
    });
  };
}
