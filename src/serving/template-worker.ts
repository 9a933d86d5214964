/**
 * @module A worker thread that renders untrusted Jinja templates, so that a template that loops or
 * grows without bound never blocks the event loop: each render has a time limit (the worker is
 * terminated and replaced when it passes it), the worker's heap is capped, and so is the output.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** A render that broke a bound or failed; `message` is meant for the client. */
export class TemplateFailure extends Error {
  override name = 'TemplateFailure';
}

/** The bounds of one render. */
export interface TemplateLimits {
  timeMs: number;
  maxChars: number;
  /** Heap of the rendering thread, in MiB. */
  heapMb: number;
}

export const DEFAULT_TEMPLATE_LIMITS: TemplateLimits = { timeMs: 1000, maxChars: 1 << 20, heapMb: 64 };

// plain CommonJS run with `eval: true`, so it needs no TypeScript loader in the thread
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { Template } = require(workerData.jinja);
const compiled = new Map();
parentPort.postMessage({ ready: true });
parentPort.on('message', ({ id, source, context, maxChars }) => {
  try {
    let t = compiled.get(source);
    if (!t) {
      t = new Template(source);
      if (compiled.size > 32) compiled.clear();
      compiled.set(source, t);
    }
    const text = t.render(context);
    if (text.length > maxChars) parentPort.postMessage({ id, error: 'its output is longer than ' + maxChars + ' characters' });
    else parentPort.postMessage({ id, text });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err).slice(0, 500) });
  }
});
`;

interface Pending {
  id: number;
  source: string;
  context: Record<string, unknown>;
  limits: TemplateLimits;
  ok: (text: string) => void;
  fail: (err: Error) => void;
}

/**
 * Renders templates one at a time in a worker thread; a render over its time or heap bound ends that
 * thread, and the next render gets a fresh one.
 * @example const text = await new TemplateRenderer().render('{{ x }}', { x: 1 });
 */
export class TemplateRenderer {
  private worker: Worker | null = null;
  private heapMb = 0;
  private queue: Pending[] = [];
  private ready = false;
  private current: { job: Pending; timer: NodeJS.Timeout | null; worker: Worker } | null = null;
  private nextId = 1;

  /** Renders `source` with `context` within `limits`; rejects with TemplateFailure. */
  render(source: string, context: Record<string, unknown>, limits: TemplateLimits = DEFAULT_TEMPLATE_LIMITS): Promise<string> {
    return new Promise((ok, fail) => {
      this.queue.push({ id: this.nextId++, source, context, limits, ok, fail });
      this.worker?.ref();
      this.pump();
    });
  }

  /** Ends the thread (pending renders fail). */
  async close(): Promise<void> {
    for (const job of this.queue.splice(0)) job.fail(new TemplateFailure('the renderer was closed'));
    this.finish(new TemplateFailure('the renderer was closed'));
    await this.worker?.terminate();
    this.worker = null;
  }

  private spawn(heapMb: number): Worker {
    const jinja = createRequire(import.meta.url).resolve('@huggingface/jinja');
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { jinja },
      resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: Math.max(4, heapMb >> 2), stackSizeMb: 4 },
    });
    w.on('message', (m: { id?: number; ready?: boolean; text?: string; error?: string }) => {
      if (m.ready) {
        if (this.worker === w) this.ready = true;
        this.pump();
        return;
      }
      if (this.current?.worker !== w || this.current.job.id !== m.id) return;
      if (m.error !== undefined) this.finish(new TemplateFailure(m.error));
      else this.finish(null, m.text ?? '');
    });
    const gone = (why: string) => {
      const wasOurs = this.worker === w;
      if (wasOurs) this.worker = null;
      if (!wasOurs && this.current?.worker !== w) return;
      if (this.current?.worker === w) this.finish(new TemplateFailure(why));
      else if (!this.current) this.queue.shift()?.fail(new TemplateFailure(why)); // died while starting
      this.pump();
    };
    w.on('error', (err) => {
      const oom = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      gone(oom ? `it needs more than ${heapMb} MiB of memory` : String(err.message).slice(0, 500));
    });
    w.on('exit', () => gone('the rendering thread ended'));
    return w;
  }

  private finish(err: Error | null, text = ''): void {
    const cur = this.current;
    if (!cur) return;
    this.current = null;
    if (cur.timer) clearTimeout(cur.timer);
    if (!this.queue.length) this.worker?.unref();
    if (err) cur.job.fail(err);
    else cur.job.ok(text);
    queueMicrotask(() => this.pump());
  }

  private pump(): void {
    if (this.current) return;
    const job = this.queue[0];
    if (!job) return;
    if (!this.worker || this.heapMb !== job.limits.heapMb) {
      void this.worker?.terminate();
      this.ready = false;
      this.worker = this.spawn(job.limits.heapMb);
      this.heapMb = job.limits.heapMb;
    }
    // the clock starts once the thread has loaded the renderer
    if (!this.ready) return;
    this.queue.shift();
    const w = this.worker;
    this.current = { job, timer: null, worker: w };
    this.current.timer = setTimeout(() => {
      this.worker = null;
      void w.terminate();
      this.finish(new TemplateFailure(`it took longer than ${job.limits.timeMs} ms`));
    }, job.limits.timeMs);
    w.postMessage({ id: job.id, source: job.source, context: job.context, maxChars: job.limits.maxChars });
  }
}
