/**
 * @module A/B routes: a model name may route between its original and a compressed variant by weight.
 * Assignment is sticky per user by hashing (same user, same arm); a sampled share of requests may also
 * run on the other arm as a shadow, off the response path.
 */
import { createHash } from 'node:crypto';
import { validateRoute, type AbRoute, type RouteArm } from './ab-route.ts';

export { validateRoute, type AbRoute, type RouteArm } from './ab-route.ts';

/** A number in [0, 1) fixed by `model` and `user`. */
export function stickyUnit(model: string, user: string): number {
  const h = createHash('sha256').update(model).update('\u0000').update(user).digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

/** The arm a unit number falls in, by cumulative weight. */
export function pickArm(route: AbRoute, unit: number): RouteArm {
  const total = route.arms.reduce((s, a) => s + a.weight, 0);
  let acc = 0;
  for (const arm of route.arms) {
    acc += arm.weight / total;
    if (unit < acc) return arm;
  }
  return route.arms[route.arms.length - 1];
}

/** Where routes are kept across restarts (the database); the router works in memory without one. */
export interface RouteStore {
  save(route: AbRoute): Promise<void>;
  remove(model: string): Promise<void>;
}

/**
 * Holds routes by model name.
 * @example await router.set({ model: 'm', arms: [{ variant: 'm', weight: 90 }, { variant: 'm:flattengpt-25', weight: 10 }], shadowRate: 0 });
 */
export class AbRouter {
  private readonly routes = new Map<string, AbRoute>();

  constructor(private readonly store?: RouteStore) {}

  /**
   * Replaces every route with `routes` (as saved in the database), without writing them again: a
   * gateway mirrors the database's routes at start and whenever they change.
   */
  restore(routes: AbRoute[]): void {
    const next = new Map<string, AbRoute>();
    for (const r of routes) next.set(r.model, validateRoute(r));
    this.routes.clear();
    for (const [k, v] of next) this.routes.set(k, v);
  }

  async set(route: AbRoute): Promise<AbRoute> {
    validateRoute(route);
    await this.store?.save(route);
    this.routes.set(route.model, route);
    return route;
  }

  get(model: string): AbRoute | undefined {
    return this.routes.get(model);
  }

  async delete(model: string): Promise<boolean> {
    await this.store?.remove(model);
    return this.routes.delete(model);
  }

  /** The arm for a request: sticky when `user` is given, random otherwise. */
  assign(route: AbRoute, user: string | null, random: () => number = Math.random): RouteArm {
    return pickArm(route, user ? stickyUnit(route.model, user) : random());
  }
}
