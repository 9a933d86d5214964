/**
 * @module Evaluation of one model, as the compression job and `flatgate eval` run it: perplexity on a
 * held-out text, zero-shot multiple-choice accuracy on the harness tasks, and agreement with another
 * model (usually the dense original). Inputs are all checked before the first forward.
 */
import { readFile } from 'node:fs/promises';
import { InvalidRequest } from '../../errors.ts';
import { loadModel } from '../../model/load.ts';
import type { LoadedModel } from '../../model/types.ts';
import { perplexity, scoringWindows } from '../../serving/score.ts';
import type { DecoderSession, ProviderPreference } from '../../serving/session/backend.ts';
import { createStreamedDecoder } from '../layer-stream.ts';
import { agreement, type Agreement } from './agreement.ts';
import { choiceAccuracy, loglikelihoods, type BatchDecoderFactory } from './multiple-choice.ts';
import { requestsOf, type MultipleChoiceExample, type TaskScore } from './task-types.ts';
import { DEFAULT_DATA_DIR, loadTask, taskDefinition } from './tasks.ts';

/** Options of {@link evaluateModel}. */
export interface EvaluateOptions {
  /** Held-out text for perplexity (and for agreement). */
  pplFile?: string;
  /** Window length for perplexity and agreement (default: the context minus BOS). */
  seq?: number;
  /** Task names (see `TASKS`). */
  tasks?: readonly string[];
  /** First N examples of each task. */
  limit?: number;
  /** The model to compare with (a loaded model or a path); needs `pplFile`. */
  against?: LoadedModel | string;
  threads?: number;
  provider?: ProviderPreference;
  /** Folder with the task files (default: the bundled subsets, `fixtures/tasks`). */
  dataDir?: string;
  /** Prepend BOS to multiple-choice contexts (off, as in the harness). */
  bos?: boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
}

/** What {@link evaluateModel} measured; absent parts were not asked for. */
export interface EvaluationResult {
  ppl?: number;
  /** Mean NLL per token and the token count behind `ppl`. */
  nll?: number;
  tokens?: number;
  tasks: Record<string, TaskScore>;
  agreement?: Agreement;
  /** Wall time of each part, in seconds. */
  seconds: Record<string, number>;
}

async function readText(file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => {
    throw new InvalidRequest(`cannot read ${file}`, 'ppl');
  });
}

/**
 * Evaluates `loaded`.
 * @example const r = await evaluateModel(loaded, { pplFile: 'heldout.txt', seq: 256, tasks: ['piqa'], limit: 100 });
 */
export async function evaluateModel(loaded: LoadedModel, opts: EvaluateOptions = {}): Promise<EvaluationResult> {
  const { model, tokenizer } = loaded;
  const seconds: Record<string, number> = {};
  const clock = (name: string, start: number) => (seconds[name] = (performance.now() - start) / 1000);
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 1)) throw new InvalidRequest(`limit must be a positive integer, got ${opts.limit}`, 'limit');
  if (opts.against !== undefined && !opts.pplFile) throw new InvalidRequest('agreement needs a held-out text: give --ppl FILE with --against', 'against');
  const names = [...new Set(opts.tasks ?? [])];
  names.forEach(taskDefinition);
  const text = opts.pplFile ? await readText(opts.pplFile) : undefined;
  const examples: Record<string, MultipleChoiceExample[]> = {};
  for (const name of names) examples[name] = await loadTask(name, opts.dataDir ?? DEFAULT_DATA_DIR, opts.limit);
  const other = typeof opts.against === 'string' ? await loadModel(opts.against) : opts.against;
  const seq = opts.seq ?? Math.min(model.config.maxPositions, other?.model.config.maxPositions ?? Infinity) - 1;

  const sessionOpts = { threads: opts.threads, provider: opts.provider };
  const ids = text === undefined ? undefined : tokenizer.encode(text);
  // every forward runs on a model streamed block by block over sequences known in advance (perplexity
  // windows, task batches): memory is the weights plus one block and the activations, never a second
  // whole-model copy in the engine, so a 1B-class original and its variant can be evaluated side by side
  const context = Math.min(model.config.maxPositions, other?.model.config.maxPositions ?? Infinity);
  const windows = ids ? scoringWindows(ids, { seq, bos: tokenizer.bosId, batch: 1, context }) : null;
  const overWindows = (m: LoadedModel['model']) => createStreamedDecoder(m, windows!.map((w) => ({ ids: w.ids, batch: w.windows.length, seq: w.len + 1 })), sessionOpts);
  const sessions: DecoderSession[] = [];
  try {
    let ppl: Pick<EvaluationResult, 'ppl' | 'nll' | 'tokens'> = {};
    if (ids) {
      const t0 = performance.now();
      const session = await overWindows(model);
      sessions.push(session);
      const p = await perplexity(session, ids, { seq, bos: tokenizer.bosId, batch: 1, onProgress: (d, n) => opts.onProgress?.('ppl', d, n) });
      ppl = { ppl: p.ppl, nll: p.nll, tokens: p.tokens };
      clock('ppl', t0);
    }
    const streamed: BatchDecoderFactory = {
      vocabSize: model.config.vocabSize,
      maxPositions: model.config.maxPositions,
      open: (batches) => createStreamedDecoder(model, batches, sessionOpts),
    };
    // every task's requests in one plan, so that a streamed pass over the model serves all of them
    const tasks: Record<string, TaskScore> = {};
    if (names.length) {
      const t0 = performance.now();
      const perTask = names.map((name) => examples[name].flatMap(requestsOf));
      const lls = await loglikelihoods(streamed, tokenizer, perTask.flat(), { bos: opts.bos, onProgress: (d, n) => opts.onProgress?.('tasks', d, n) });
      let at = 0;
      for (const [i, name] of names.entries()) {
        tasks[name] = choiceAccuracy(examples[name], lls.slice(at, at + perTask[i].length), taskDefinition(name).metrics);
        at += perTask[i].length;
      }
      clock('tasks', t0);
    }
    let agreed: Agreement | undefined;
    if (ids && other) {
      const t0 = performance.now();
      const b = await overWindows(other.model);
      sessions.push(b);
      agreed = await agreement(sessions[0], b, ids, { seq, bos: tokenizer.bosId, batch: 1, onProgress: (d, n) => opts.onProgress?.('agreement', d, n) });
      clock('agreement', t0);
    }
    return { ...ppl, tasks, ...(agreed ? { agreement: agreed } : {}), seconds };
  } finally {
    for (const s of sessions) await s.release();
  }
}
