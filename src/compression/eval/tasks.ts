/**
 * @module The zero-shot tasks, loaded from a task data folder (the bundled subsets in `fixtures/tasks`, or
 * `FLATGATE_TASK_DATA_DIR`) into the common multiple-choice form with
 * lm-evaluation-harness's prompts (its `piqa`, `arc_easy`, `arc_challenge`, `winogrande`, `hellaswag`
 * and `boolq` task definitions), and which metrics the harness reports for each.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidRequest } from '../../errors.ts';
import { parseHellaswag } from './hellaswag.ts';
import type { ChoiceMetric, MultipleChoiceExample, TASK_NAMES } from './task-types.ts';

/** The bundled task subsets (first 500 items of each; fixtures/tasks/NOTICE), the default task data folder. */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../../fixtures/tasks', import.meta.url));

/** A task: where its data lies, how to read it, what the harness reports. */
export interface TaskDefinition {
  name: string;
  /** Files relative to the data folder. */
  files: string[];
  metrics: ChoiceMetric[];
  parse(texts: string[], paths: string[]): MultipleChoiceExample[];
}

type Doc = Record<string, unknown>;

function jsonl(text: string, file: string): Doc[] {
  return text
    .split(/\r?\n/)
    .map((line, i) => [line, i] as const)
    .filter(([line]) => line.trim() !== '')
    .map(([line, i]) => {
      try {
        return JSON.parse(line) as Doc;
      } catch {
        throw new InvalidRequest(`${file}:${i + 1}: not a JSON line`, 'data-dir');
      }
    });
}

function field(doc: Doc, key: string, file: string): string {
  const v = doc[key];
  if (typeof v !== 'string') throw new InvalidRequest(`${file}: an item has no string '${key}'`, 'data-dir');
  return v;
}

function labels(text: string, count: number, file: string, base: number): number[] {
  const out = text.split(/\s+/).filter(Boolean).map(Number);
  if (out.length !== count || out.some((x) => !Number.isInteger(x))) {
    throw new InvalidRequest(`${file}: expected ${count} integer labels, found ${out.length}`, 'data-dir');
  }
  return out.map((x) => x - base);
}

function arc(file: string): TaskDefinition['parse'] {
  return ([text], [path]) =>
    jsonl(text, path).map((doc) => {
      const choices = doc.choices as { text: string[]; label: string[] } | undefined;
      const gold = choices?.label.indexOf(field(doc, 'answerKey', path)) ?? -1;
      if (!choices || gold < 0) throw new InvalidRequest(`${path}: item ${String(doc.id)} has no matching answerKey (${file})`, 'data-dir');
      return { context: `Question: ${field(doc, 'question', path)}\nAnswer:`, choices: choices.text, gold };
    });
}

/** Every task, by the harness's name (exactly those of TASK_NAMES). */
export const TASKS: Record<string, TaskDefinition> = {
  piqa: {
    name: 'piqa',
    files: ['piqa/valid.jsonl', 'piqa/valid-labels.lst'],
    metrics: ['acc', 'acc_norm'],
    parse([text, lab], [path, labPath]) {
      const docs = jsonl(text, path);
      const gold = labels(lab, docs.length, labPath, 0);
      return docs.map((d, i) => ({
        context: `Question: ${field(d, 'goal', path)}\nAnswer:`,
        choices: [field(d, 'sol1', path), field(d, 'sol2', path)],
        gold: gold[i],
      }));
    },
  },
  arc_easy: { name: 'arc_easy', files: ['arc/ARC-Easy-test.jsonl'], metrics: ['acc', 'acc_norm'], parse: arc('ARC-Easy') },
  arc_challenge: { name: 'arc_challenge', files: ['arc/ARC-Challenge-test.jsonl'], metrics: ['acc', 'acc_norm'], parse: arc('ARC-Challenge') },
  winogrande: {
    name: 'winogrande',
    files: ['winogrande/dev.jsonl', 'winogrande/dev-labels.lst'],
    metrics: ['acc'],
    parse([text, lab], [path, labPath]) {
      const docs = jsonl(text, path);
      const gold = labels(lab, docs.length, labPath, 1);
      return docs.map((d, i) => {
        const sentence = field(d, 'sentence', path);
        const blank = sentence.indexOf('_');
        if (blank < 0) throw new InvalidRequest(`${path}: item ${i + 1} has no blank '_'`, 'data-dir');
        return {
          context: '',
          choices: [field(d, 'option1', path), field(d, 'option2', path)].map((o) => sentence.slice(0, blank) + o),
          continuation: sentence.slice(blank + 1).trim(),
          gold: gold[i],
        };
      });
    },
  },
  hellaswag: {
    name: 'hellaswag',
    files: ['hellaswag/hellaswag_val_full.txt'],
    metrics: ['acc', 'acc_norm'],
    parse: ([text], [path]) => parseHellaswag(text, path),
  },
  boolq: {
    name: 'boolq',
    files: ['boolq/dev.jsonl'],
    metrics: ['acc'],
    parse([text], [path]) {
      return jsonl(text, path).map((d) => {
        if (typeof d.answer !== 'boolean') throw new InvalidRequest(`${path}: an item has no boolean 'answer'`, 'data-dir');
        return {
          context: `${field(d, 'passage', path)}\nQuestion: ${field(d, 'question', path)}?\nAnswer:`,
          choices: ['no', 'yes'],
          gold: d.answer ? 1 : 0,
        };
      });
    },
  },
} satisfies Record<(typeof TASK_NAMES)[number], TaskDefinition>;

/** The definition of `name`, or one InvalidRequest line listing the known tasks. */
export function taskDefinition(name: string): TaskDefinition {
  const def = Object.hasOwn(TASKS, name) ? TASKS[name] : undefined;
  if (!def) throw new InvalidRequest(`unknown task '${name}' (known: ${Object.keys(TASKS).join(', ')})`, 'tasks');
  return def;
}

/**
 * Loads a task's examples from `dataDir` (the first `limit`, when given).
 * @example const items = await loadTask('piqa', DEFAULT_DATA_DIR, 50);
 */
export async function loadTask(name: string, dataDir = DEFAULT_DATA_DIR, limit?: number): Promise<MultipleChoiceExample[]> {
  const def = taskDefinition(name);
  const paths = def.files.map((f) => join(dataDir, f));
  // one file after another, so a missing folder is always reported by its first file
  const texts: string[] = [];
  for (const p of paths) {
    texts.push(
      await readFile(p, 'utf8').catch(() => {
        throw new InvalidRequest(`${name}: cannot read ${p} (is FLATGATE_TASK_DATA_DIR right?)`, 'data-dir');
      }),
    );
  }
  const all = def.parse(texts, paths);
  return limit === undefined ? all : all.slice(0, limit);
}
