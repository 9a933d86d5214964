/**
 * @module The common multiple-choice form every zero-shot task is loaded into, mirroring
 * lm-evaluation-harness's `doc_to_text` / `doc_to_choice` / `doc_to_target`.
 */

/** A metric the harness reports for a multiple-choice task. */
export type ChoiceMetric = 'acc' | 'acc_norm';

/**
 * One item. Normally each choice is a continuation of `context` (scored as `context` + " " + choice).
 * WinoGrande's partial evaluation turns it around: each choice is a context, and `continuation` is the
 * shared text scored after it.
 */
export interface MultipleChoiceExample {
  context: string;
  /** The choices as the harness's `doc_to_choice` gives them (no target delimiter). */
  choices: string[];
  /** Index of the right choice. */
  gold: number;
  /** Partial evaluation only: the shared continuation (without the target delimiter). */
  continuation?: string;
}

/** A (context, continuation) pair whose continuation log-likelihood is wanted. */
export interface LoglikelihoodRequest {
  context: string;
  continuation: string;
}

/** The harness's default `target_delimiter`. */
export const TARGET_DELIMITER = ' ';

/**
 * The requests of one example, one per choice, as the harness builds them.
 * @example requestsOf({ context: 'Q:\nA:', choices: ['x', 'y'], gold: 0 }) // [{context:'Q:\nA:', continuation:' x'}, ...]
 */
export function requestsOf(ex: MultipleChoiceExample): LoglikelihoodRequest[] {
  if (ex.continuation !== undefined) {
    return ex.choices.map((c) => ({ context: c, continuation: TARGET_DELIMITER + ex.continuation }));
  }
  return ex.choices.map((c) => ({ context: ex.context, continuation: TARGET_DELIMITER + c }));
}

/**
 * Accuracy of one task; `acc_norm` only where the harness reports it. Each `*_stderr` is the binomial
 * standard error sqrt(p(1-p)/n) of that accuracy over the `n` items (the harness's sample-variance form
 * divides by n-1 instead: larger by sqrt(n/(n-1)), under 0.2% at n = 300).
 */
export interface TaskScore {
  acc: number;
  acc_stderr: number;
  acc_norm?: number;
  acc_norm_stderr?: number;
  n: number;
}

/** The binomial standard error of an accuracy `p` measured on `n` items. */
export function binomialStderr(p: number, n: number): number {
  return Math.sqrt((p * (1 - p)) / n);
}

/** The names of the zero-shot tasks (lm-evaluation-harness's), in the order reports list them. */
export const TASK_NAMES = ['piqa', 'arc_easy', 'arc_challenge', 'winogrande', 'hellaswag', 'boolq'] as const;
