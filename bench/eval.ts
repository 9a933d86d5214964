/**
 * @module Evaluation cost of the 124.7M LLaMA shape (random weights, seed 124, LLaMA-2 tokenizer) on the
 * CPU: seconds of the zero-shot tasks (scored together, one streamed pass; per item of all six), of perplexity and of agreement on the built-in held-out
 * text, as a compression job evaluates each variant. The job's default `task_limit` comes from these
 * numbers (bench/README.md). Run `npm run bench:eval [-- --items 20 --threads 2]`; writes
 * bench/results/eval.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { evaluateModel } from '../src/compression/eval/evaluate.ts';
import { TASKS } from '../src/compression/eval/tasks.ts';
import { DEFAULT_EVAL_FILE } from '../src/jobs/run-job.ts';
import { Llama2cTokenizer } from '../src/model/tokenizer/llama2c-tokenizer.ts';
import { countParams } from '../src/model/types.ts';
import { randomModel } from '../test/fixtures/random-model.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { items: { type: 'string', default: '20' }, threads: { type: 'string', default: '2' }, tasks: { type: 'string' } } });
const items = Number(values.items);
const threads = Number(values.threads);
const tasks = values.tasks?.split(',') ?? Object.keys(TASKS);

const model = randomModel({ hiddenSize: 768, intermediateSize: 2048, numLayers: 12, numHeads: 12, numKvHeads: 4, headDim: 64, vocabSize: 32000, maxPositions: 2048, seed: 124 });
const tokenizer = await Llama2cTokenizer.load(join(HERE, '../fixtures/models/llama2-tokenizer/tokenizer.bin'), 32000);
const loaded = { model, tokenizer, source: 'random-124.7M' };
const load0 = loadavg()[0];
const t0 = performance.now();
// against itself: agreement costs the same as against a compressed variant of the same shape (slightly more)
const r = await evaluateModel(loaded, { pplFile: DEFAULT_EVAL_FILE, seq: 256, tasks, limit: items, against: loaded, threads });
const wall = (performance.now() - t0) / 1000;
// the tasks are scored in one plan (one streamed pass over the model for all of them): time is per item of all six
const rows = tasks.map((t) => ({ part: t, items: r.tasks[t].n }));
const perItemAll = r.seconds.tasks / items;
console.log(`124.7M shape (${(countParams(model) / 1e6).toFixed(1)}M params), ${threads} threads, ${items} items per task, load average ${load0.toFixed(2)} -> ${loadavg()[0].toFixed(2)} on ${cpus().length} CPUs`);
console.log('part            items   seconds');
console.log(`${'tasks'.padEnd(15)} ${String(rows.reduce((s, x) => s + x.items, 0)).padStart(5)} ${r.seconds.tasks.toFixed(2).padStart(9)}`);
console.log(`ppl             ${String(r.tokens).padStart(5)} tok ${r.seconds.ppl.toFixed(2).padStart(6)}`);
console.log(`agreement                 ${r.seconds.agreement.toFixed(2).padStart(6)}`);
console.log(`all six tasks: ${perItemAll.toFixed(3)} s per item of each; wall ${wall.toFixed(1)} s (includes session builds)`);
await mkdir(join(HERE, 'results'), { recursive: true });
await writeFile(
  join(HERE, 'results/eval.json'),
  JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, load_before: load0, load_after: loadavg()[0], node: process.version, threads, items, rows, tasks_seconds: r.seconds.tasks, ppl_seconds: r.seconds.ppl, ppl_tokens: r.tokens, agreement_seconds: r.seconds.agreement, per_item_all_tasks: perItemAll, wall }, null, 2) + '\n',
);
