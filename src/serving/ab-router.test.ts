import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { abRouteStore, listAbRoutes } from '../db/queries/ab-routes.ts';
import { openLibsql } from '../db/open-libsql.ts';
import { AbRouter, pickArm, stickyUnit, type AbRoute } from './ab-router.ts';

const route: AbRoute = { model: 'm', arms: [{ variant: 'm', weight: 3 }, { variant: 'm:flattengpt-20', weight: 1 }], shadowRate: 0.1 };

describe('A/B routing', () => {
  it('picks arms by cumulative weight', () => {
    expect(pickArm(route, 0).variant).toBe('m');
    expect(pickArm(route, 0.7499).variant).toBe('m');
    expect(pickArm(route, 0.75).variant).toBe('m:flattengpt-20');
    expect(pickArm(route, 0.9999).variant).toBe('m:flattengpt-20');
  });

  it('assigns a user to the same arm every time, and users spread over [0, 1)', () => {
    expect(stickyUnit('m', 'alice')).toBe(stickyUnit('m', 'alice'));
    expect(stickyUnit('m', 'alice')).not.toBe(stickyUnit('other-model', 'alice'));
    const units = Array.from({ length: 4000 }, (_, i) => stickyUnit('m', `u${i}`));
    const mean = units.reduce((s, u) => s + u, 0) / units.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(Math.min(...units)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...units)).toBeLessThan(1);
  });

  it('refuses routes with no positive weight, duplicate arms or a shadow rate outside [0, 1]', async () => {
    const r = new AbRouter();
    await expect(r.set({ ...route, arms: [{ variant: 'm', weight: 0 }] })).rejects.toThrow(/positive sum/);
    await expect(r.set({ ...route, arms: [{ variant: 'm', weight: 1 }, { variant: 'm', weight: 1 }] })).rejects.toThrow(/one arm/);
    await expect(r.set({ ...route, shadowRate: 2 })).rejects.toThrow(/shadow_rate/);
    expect(r.get('m')).toBeUndefined();
  });

  it('keeps routes in the database across a restart', async () => {
    const { db, close } = await openLibsql(`file:${join(await mkdtemp(join(tmpdir(), 'fg-routes-')), 'db.sqlite')}`);
    try {
      const before = new AbRouter(abRouteStore(db));
      await before.set(route);
      await before.set({ model: 'n', arms: [{ variant: 'n', weight: 1 }], shadowRate: 0 });
      await before.delete('n');
      const after = new AbRouter(abRouteStore(db));
      after.restore((await listAbRoutes(db)).map((r) => ({ model: r.model, arms: r.arms, shadowRate: r.shadowRate })));
      expect(after.get('m')).toEqual(route);
      expect(after.get('n')).toBeUndefined();
    } finally {
      close();
    }
  });
});
