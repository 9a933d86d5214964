/**
 * @module One inference request end to end, independent of HTTP: resolve the model id (a variant, an
 * `:original` alias, or an A/B route), wait for a slot in the variant's scheduler, run the completion,
 * record its timings, and sometimes run the other arm as a shadow to measure agreement.
 */
import { ModelNotFound } from '../errors.ts';
import type { AbRoute, AbRouter } from './ab-router.ts';
import { completeStream, scorePrompt, type CompletionDelta, type CompletionEnd, type CompletionParams, type PromptLogprobs } from './completion.ts';
import type { BenchmarkStore } from './benchmark-result.ts';
import type { MetricsStore } from './metrics.ts';
import type { ModelPool, ServedModel } from './model-pool.ts';
import { scoreTokens } from './score.ts';
import type { SummaryRecorder } from './summaries.ts';

/** What the service needs. */
export interface InferenceDeps {
  pool: ModelPool;
  router: AbRouter;
  metrics: MetricsStore;
  /** This gateway's per-minute summaries (fed by `metrics`), and where every gateway's are read. */
  summaries?: SummaryRecorder;
  /** Where matched-workload benchmarks are saved. */
  benchmarks?: BenchmarkStore;
  log?: (msg: string, err?: unknown) => void;
  random?: () => number;
  /** Brings `id` into the pool when the database says it is served (a pool miss); absent: the pool is all. */
  ensure?: (id: string) => Promise<void>;
}

/** A resolved request target. */
export interface Target {
  served: ServedModel;
  /** The original model's id. */
  family: string;
  route?: AbRoute;
}

/** Suffix that always names the original, even when a route is set on the bare name. */
export const ORIGINAL_ALIAS = ':original';

/**
 * Resolves a request's `model`: a route on that name (sticky per `user`), the `:original` alias, or a
 * served id.
 */
export function resolveTarget(deps: InferenceDeps, model: string, user: string | null): Target {
  if (model.endsWith(ORIGINAL_ALIAS)) {
    const served = deps.pool.get(model.slice(0, -ORIGINAL_ALIAS.length));
    return { served, family: served.info.parent ?? served.id };
  }
  const route = deps.router.get(model);
  if (route) {
    const arm = deps.router.assign(route, user, deps.random);
    const served = deps.pool.get(arm.variant);
    return { served, family: served.info.parent ?? served.id, route };
  }
  const served = deps.pool.get(model);
  return { served, family: served.info.parent ?? served.id };
}

/**
 * {@link resolveTarget}, but a model id the pool lacks is first looked up where the truth lives
 * (`deps.ensure`), so a variant published through another gateway is served here, not 404.
 */
export async function resolveServedTarget(deps: InferenceDeps, model: string, user: string | null): Promise<Target> {
  try {
    return resolveTarget(deps, model, user);
  } catch (err) {
    if (!(err instanceof ModelNotFound) || !deps.ensure) throw err;
    await deps.ensure(model.endsWith(ORIGINAL_ALIAS) ? model.slice(0, -ORIGINAL_ALIAS.length) : model);
    return resolveTarget(deps, model, user);
  }
}

/**
 * Runs one completion on `target` and records it. `arrival` is when the request arrived
 * (performance.now()), so queue time and TTFT include everything the client waited for.
 */
export async function* runCompletion(
  deps: InferenceDeps,
  target: Target,
  params: CompletionParams,
  arrival: number,
  signal?: AbortSignal,
): AsyncGenerator<CompletionDelta, CompletionEnd> {
  const { served } = target;
  const slot = await served.scheduler.acquire(signal);
  let first: number | null = null;
  let prev = 0;
  const itl: number[] = [];
  let end: CompletionEnd | null = null;
  // stays null when the consumer stops early (a client that went away mid-stream)
  let outcome: 'ok' | 'error' | 'aborted' | null = null;
  const it = completeStream(served, params, signal);
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) {
        end = r.value;
        break;
      }
      const now = performance.now();
      if (first === null) first = now;
      else itl.push((now - prev) / 1000);
      prev = now;
      yield r.value;
    }
    // generation stops quietly when the client goes away
    outcome = signal?.aborted ? 'aborted' : 'ok';
  } catch (err) {
    outcome = signal?.aborted ? 'aborted' : 'error';
    throw err;
  } finally {
    // a consumer that stopped early: end the generation (and free its batch row) before the slot
    if (end === null) await it.return(undefined as never).catch(() => {});
    slot.release();
    const now = performance.now();
    deps.metrics.record({
      model: target.family,
      variant: served.id,
      at: Date.now(),
      queue: slot.queueSeconds,
      ttft: first === null ? null : (first - arrival) / 1000,
      itl,
      e2e: (now - arrival) / 1000,
      promptTokens: end?.promptTokens ?? 0,
      completionTokens: end?.completionTokens ?? 0,
      finishReason: end && !signal?.aborted ? end.finishReason : 'abort',
      kind: params.maxTokens === 0 ? 'scoring' : 'generation',
      outcome: outcome ?? 'aborted',
    });
  }
  maybeShadow(deps, target, end);
  return end;
}

/**
 * Scores a prompt (`echo` + `logprobs`) holding a slot of the variant's scheduler, like any other request
 * on it, and records the forward's time: the request itself is recorded by runCompletion, which does no
 * forward for max_tokens 0.
 */
export async function scoreWithSlot(deps: InferenceDeps, target: Target, prompt: string | readonly number[], topK: number, signal?: AbortSignal): Promise<PromptLogprobs> {
  const slot = await target.served.scheduler.acquire(signal);
  try {
    const start = performance.now();
    const scored = await scorePrompt(target.served, prompt, topK);
    deps.metrics.recordScoring(target.family, target.served.id, (performance.now() - start) / 1000, scored.tokens.length);
    return scored;
  } finally {
    slot.release();
  }
}

/** Starts a shadow run on another arm of the route, off the response path, when sampled. */
function maybeShadow(deps: InferenceDeps, target: Target, end: CompletionEnd): void {
  const route = target.route;
  if (!route || route.shadowRate <= 0 || end.completionIds.length === 0) return;
  if ((deps.random ?? Math.random)() >= route.shadowRate) return;
  const other = route.arms.find((a) => a.variant !== target.served.id);
  if (!other) return;
  void shadowAgreement(deps, target.served.id, other.variant, end).catch((err) => deps.log?.('shadow run failed', err));
}

/**
 * Teacher-forced agreement: the share of the primary's generated tokens that the shadow variant would
 * also have chosen greedily, given the same prefix.
 */
export async function shadowAgreement(deps: InferenceDeps, primary: string, shadowId: string, end: CompletionEnd): Promise<number | null> {
  const shadow = deps.pool.get(shadowId);
  let slot;
  try {
    slot = await shadow.scheduler.acquire();
  } catch {
    return null; // the shadow arm is saturated: skip rather than queue behind real traffic
  }
  try {
    const ids = [...end.promptIds, ...end.completionIds];
    const { top } = await scoreTokens(await shadow.session(), ids, 1);
    const first = end.promptIds.length - 1;
    let agree = 0;
    for (let i = first; i < ids.length - 1; i++) if (top![i][0].id === ids[i + 1]) agree++;
    const top1 = agree / end.completionIds.length;
    deps.metrics.recordAgreement(primary, shadowId, top1, end.completionIds.length);
    return top1;
  } finally {
    slot.release();
  }
}
