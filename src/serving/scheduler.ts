/**
 * @module Admission control for one served variant: at most `concurrency` requests run at once, at most
 * `queue` wait; the next one is refused with Overloaded (429). Waiters leave the queue when their client
 * goes away.
 */
import { Overloaded } from '../errors.ts';

/** Limits of one variant. */
export interface SchedulerLimits {
  concurrency: number;
  queue: number;
}

/** A granted slot: call `release` exactly once when the request ends. */
export interface Slot {
  /** Seconds spent waiting in the queue. */
  queueSeconds: number;
  release(): void;
}

/**
 * A FIFO semaphore with a bounded queue.
 * @example const slot = await scheduler.acquire(signal); try { ... } finally { slot.release(); }
 */
export class Scheduler {
  private running = 0;
  private readonly waiting: { grant: () => void }[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(readonly limits: SchedulerLimits) {
    if (limits.concurrency < 1 || limits.queue < 0) throw new RangeError('concurrency must be >= 1 and queue >= 0');
  }

  /** Requests running now and waiting now. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** Resolves when no request runs or waits (at once if none does). */
  idle(): Promise<void> {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async acquire(signal?: AbortSignal): Promise<Slot> {
    const start = performance.now();
    if (this.running < this.limits.concurrency) {
      this.running++;
      return this.slot(start);
    }
    if (this.waiting.length >= this.limits.queue) {
      throw new Overloaded(`Too many requests queued for this model (${this.limits.queue}); retry later`);
    }
    await new Promise<void>((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
    return this.slot(start);
  }

  private slot(start: number): Slot {
    let released = false;
    return {
      queueSeconds: (performance.now() - start) / 1000,
      release: () => {
        if (released) return;
        released = true;
        const next = this.waiting.shift();
        if (next) next.grant();
        else this.running--;
        if (this.running === 0 && this.waiting.length === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const w of waiters) w();
        }
      },
    };
  }
}
