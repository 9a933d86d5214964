/**
 * @module Zero-shot multiple choice by log-likelihood, the lm-evaluation-harness way: each choice's score
 * is the sum of its continuation tokens' log-probabilities given the context; `acc` picks the largest
 * sum, `acc_norm` the largest sum per character of the choice. Requests from many examples run
 * together, longest first, right-padded (padding after the last real token cannot change a causal
 * model's earlier logits).
 */
import { InvalidRequest } from '../../errors.ts';
import type { Tokenizer } from '../../model/types.ts';
import { argmax, logProbOf } from '../../serving/generate/sampling.ts';
import type { DecoderSession } from '../../serving/session/backend.ts';
import type { TokenBatch } from '../layer-stream.ts';
import { binomialStderr, type ChoiceMetric, type LoglikelihoodRequest, type MultipleChoiceExample, type TaskScore } from './task-types.ts';

/** What scoring needs from a tokenizer. */
export type ScoringTokenizer = Pick<Tokenizer, 'encode' | 'bosId'>;

/** Options of {@link loglikelihoods}. */
export interface ScoringOptions {
  /** Prepend BOS to every context (the harness's `add_bos_token`; off by default, as there). */
  bos?: boolean;
  /** Most tokens (rows x padded length) per forward. */
  batchTokens?: number;
  /** Most logits (tokens x vocabulary) per forward, to bound memory. */
  batchLogits?: number;
  /** With a {@link BatchDecoderFactory}: most tokens per decoder it opens (its activations are held at once). */
  streamTokens?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * The harness's `_encode_pair`: trailing spaces of the context move to the continuation; the whole
 * string is encoded and split at the context's token count. An empty context becomes BOS alone.
 * @example encodePair(tok, 'Question: x\nAnswer:', ' yes') // { context: [...], continuation: [...] }
 */
export function encodePair(tok: ScoringTokenizer, context: string, continuation: string, bos = false): { context: number[]; continuation: number[] } {
  if (context === '') return { context: [tok.bosId], continuation: tok.encode(continuation) };
  const spaces = context.length - context.trimEnd().length;
  if (spaces > 0) {
    continuation = context.slice(context.length - spaces) + continuation;
    context = context.slice(0, context.length - spaces);
  }
  const whole = tok.encode(context + continuation);
  const ctx = tok.encode(context);
  return { context: bos ? [tok.bosId, ...ctx] : ctx, continuation: whole.slice(ctx.length) };
}

/** A request as model input: `input` (truncated on the left); its last `targets.length` logits predict `targets`. */
interface Prepared {
  input: number[];
  targets: number[];
}

function prepare(pair: { context: number[]; continuation: number[] }, maxPositions: number): Prepared {
  const full = [...pair.context, ...pair.continuation];
  const input = full.slice(Math.max(0, full.length - 1 - maxPositions), full.length - 1);
  const scored = Math.min(pair.continuation.length, input.length);
  return { input, targets: pair.continuation.slice(pair.continuation.length - scored) };
}

/**
 * A decoder opened for a known list of batches: a model streamed block by block (layer-stream.ts), so
 * scoring holds one block and the batches' activations instead of a whole-model session.
 */
export interface BatchDecoderFactory {
  vocabSize: number;
  maxPositions: number;
  open(batches: readonly TokenBatch[]): Promise<DecoderSession>;
}

/** One forward of the scoring plan: requests `rows` right-padded to `seq` tokens. */
interface PlannedBatch extends TokenBatch {
  rows: number[];
}

/** The forwards that score `items`: longest first, as many rows as the token and logit budgets allow. */
function planBatches(items: readonly Prepared[], V: number, opts: ScoringOptions): PlannedBatch[] {
  const order = items.map((_, i) => i).sort((a, b) => items[b].input.length - items[a].input.length || a - b);
  const maxTokens = opts.batchTokens ?? 4096;
  const maxLogits = opts.batchLogits ?? 1 << 25;
  const out: PlannedBatch[] = [];
  for (let k = 0; k < order.length; ) {
    const len = items[order[k]].input.length;
    if (len === 0) throw new InvalidRequest('a request has no input tokens to condition on');
    const rows: number[] = [order[k++]];
    while (k < order.length && (rows.length + 1) * len <= maxTokens && (rows.length + 1) * len * V <= maxLogits) rows.push(order[k++]);
    const ids = new Array<number>(rows.length * len).fill(0);
    rows.forEach((r, b) => items[r].input.forEach((id, t) => (ids[b * len + t] = id)));
    out.push({ ids, batch: rows.length, seq: len, rows });
  }
  return out;
}

/** Consecutive runs of `batches` of at most `budget` tokens each (a batch larger than that runs alone). */
function chunksOf(batches: readonly PlannedBatch[], budget: number): PlannedBatch[][] {
  const out: PlannedBatch[][] = [];
  let tokens = Infinity;
  for (const b of batches) {
    if (tokens + b.ids.length > budget) {
      out.push([]);
      tokens = 0;
    }
    out.at(-1)!.push(b);
    tokens += b.ids.length;
  }
  return out;
}

/**
 * Sum of log p(continuation | context) for each request, in request order. `decoder` is a session, or a
 * factory that is opened for at most `streamTokens` tokens of batches at a time.
 * @example const [a, b] = await loglikelihoods(session, tok, [{ context: 'Q:', continuation: ' yes' }, ...]);
 */
export async function loglikelihoods(
  decoder: DecoderSession | BatchDecoderFactory,
  tok: ScoringTokenizer,
  requests: readonly LoglikelihoodRequest[],
  opts: ScoringOptions = {},
): Promise<number[]> {
  const V = decoder.vocabSize;
  const items = requests.map((r) => prepare(encodePair(tok, r.context, r.continuation, opts.bos), decoder.maxPositions));
  const plan = planBatches(items, V, opts);
  const out = new Array<number>(requests.length).fill(0);
  let done = 0;
  const score = async (session: DecoderSession, batches: readonly PlannedBatch[]) => {
    for (const { ids, rows, seq } of batches) {
      const { logits } = await session.step(ids, rows.length, null);
      rows.forEach((r, b) => {
        const { input, targets } = items[r];
        let sum = 0;
        targets.forEach((target, j) => {
          const row = (b * seq + input.length - targets.length + j) * V;
          sum += logProbOf(logits.subarray(row, row + V), target);
        });
        out[r] = sum;
      });
      done += rows.length;
      opts.onProgress?.(done, items.length);
    }
  };
  if (!('open' in decoder)) {
    await score(decoder, plan);
    return out;
  }
  for (const chunk of chunksOf(plan, opts.streamTokens ?? 32_768)) {
    const session = await decoder.open(chunk);
    try {
      await score(session, chunk);
    } finally {
      await session.release();
    }
  }
  return out;
}

/**
 * The harness's predictions from one example's log-likelihoods: `acc` takes argmax(ll), `acc_norm`
 * argmax(ll / len(choice)) with lengths in characters (code points, as Python counts); ties go
 * to the first choice, as numpy's argmax does.
 */
export function predictions(lls: readonly number[], choices: readonly string[]): { pred: number; predNorm: number } {
  return { pred: argmax(lls), predNorm: argmax(lls.map((ll, i) => ll / [...choices[i]].length)) };
}

/**
 * Accuracy on `examples` from their choices' log-likelihoods (`lls`, in {@link requestsOf} order), with
 * the metrics asked for.
 */
export function choiceAccuracy(examples: readonly MultipleChoiceExample[], lls: readonly number[], metrics: readonly ChoiceMetric[]): TaskScore {
  if (examples.length === 0) throw new InvalidRequest('no examples to evaluate', 'limit');
  let hits = 0;
  let hitsNorm = 0;
  let at = 0;
  for (const ex of examples) {
    const { pred, predNorm } = predictions(lls.slice(at, at + ex.choices.length), ex.choices);
    at += ex.choices.length;
    if (pred === ex.gold) hits++;
    if (predNorm === ex.gold) hitsNorm++;
  }
  const n = examples.length;
  const acc = { acc: hits / n, acc_stderr: binomialStderr(hits / n, n) };
  return metrics.includes('acc_norm') ? { ...acc, acc_norm: hitsNorm / n, acc_norm_stderr: binomialStderr(hitsNorm / n, n), n } : { ...acc, n };
}
