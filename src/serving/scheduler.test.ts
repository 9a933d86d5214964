import { describe, expect, it } from 'vitest';
import { Overloaded } from '../errors.ts';
import { Scheduler } from './scheduler.ts';

describe('Scheduler', () => {
  it('runs up to the concurrency, queues up to the limit, then refuses with Overloaded', async () => {
    const s = new Scheduler({ concurrency: 2, queue: 1 });
    const a = await s.acquire();
    const b = await s.acquire();
    const waiting = s.acquire();
    expect(s.load).toEqual({ running: 2, waiting: 1 });
    await expect(s.acquire()).rejects.toBeInstanceOf(Overloaded);
    a.release();
    const c = await waiting;
    expect(c.queueSeconds).toBeGreaterThanOrEqual(0);
    expect(s.load).toEqual({ running: 2, waiting: 0 });
    b.release();
    c.release();
    c.release(); // idempotent
    expect(s.load).toEqual({ running: 0, waiting: 0 });
  });

  it('serves waiters in arrival order and drops aborted ones', async () => {
    const s = new Scheduler({ concurrency: 1, queue: 3 });
    const first = await s.acquire();
    const order: string[] = [];
    const ac = new AbortController();
    const x = s.acquire().then((slot) => (order.push('x'), slot));
    const gone = s.acquire(ac.signal).then(() => order.push('gone'), () => order.push('aborted'));
    const y = s.acquire().then((slot) => (order.push('y'), slot));
    ac.abort();
    await gone;
    first.release();
    (await x).release();
    (await y).release();
    expect(order).toEqual(['aborted', 'x', 'y']);
    expect(s.load).toEqual({ running: 0, waiting: 0 });
  });
});
