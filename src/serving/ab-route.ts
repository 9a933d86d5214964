/**
 * @module The shape of an A/B route and its rules, runtime-neutral (no Node builtins): the Worker
 * validates routes it keeps in D1 with the same rules as the Node router.
 */
import { InvalidRequest } from '../errors.ts';

/** One arm of a route. */
export interface RouteArm {
  variant: string;
  weight: number;
}

/** A route configured on a model name. */
export interface AbRoute {
  model: string;
  arms: RouteArm[];
  /** Share of requests (0..1) that also run on the other arm. */
  shadowRate: number;
}

/** Checks a route's shape: two or more arms, non-negative weights with a positive sum, rate in [0, 1]. */
export function validateRoute(route: AbRoute): AbRoute {
  if (route.arms.length < 1) throw new InvalidRequest('a route needs at least one arm', 'arms');
  if (route.arms.some((a) => !(a.weight >= 0)) || route.arms.reduce((s, a) => s + a.weight, 0) <= 0) {
    throw new InvalidRequest('arm weights must be >= 0 with a positive sum', 'arms');
  }
  if (new Set(route.arms.map((a) => a.variant)).size !== route.arms.length) throw new InvalidRequest('each variant may appear in one arm only', 'arms');
  if (!(route.shadowRate >= 0 && route.shadowRate <= 1)) throw new InvalidRequest('shadow_rate must be in [0, 1]', 'shadow_rate');
  return route;
}
