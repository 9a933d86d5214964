/**
 * @module `flatgate compress <model> --method flattengpt|shortgpt|sleb [--merges N | --ratio R] --calib FILE
 * --out DIR ...`: compresses a model, writes DIR as a Hugging Face folder plus DIR/report.json.
 */
import { InvalidRequest } from '../errors.ts';
import { METHODS, type Method } from '../compression/report.ts';
import { runCompression, type CompressJob } from '../compression/pipeline.ts';
import type { CompressionProgress } from '../compression/progress.ts';
import { modelArg, num, parse } from './args.ts';

const USAGE =
  'flatgate compress <model> --method flattengpt|shortgpt|sleb [--merges N | --ratio R] --calib FILE [--calib-samples N] [--seq N] ' +
  '[--seed S] [--rho X] [--no-prune] [--no-compensate] [--refit-o | --no-refit-o] [--candidates N | --no-search] [--holdout N] ' +
  '[--scores leverage|magnitude] [--eval-text FILE] [--threads N] --out DIR';

/** Renders a progress event as one terminal line. */
export function progressLine(p: CompressionProgress): string {
  const pct = p.total > 0 ? Math.round((100 * p.done) / p.total) : 0;
  return `${p.stage}${p.layer !== undefined ? ` layer ${p.layer}` : ''} ${pct}%`;
}

/** The job described by parsed flags. */
export function jobFromFlags(values: Record<string, string | boolean | undefined>): CompressJob {
  const method = values.method as string | undefined;
  if (!method || !METHODS.includes(method as Method)) throw new InvalidRequest(`--method must be one of ${METHODS.join(', ')}`, 'method');
  const merges = num(values.merges as string | undefined, 'merges', { min: 1, int: true });
  const ratio = num(values.ratio as string | undefined, 'ratio', { min: 0, max: 0.99 });
  if ((merges === undefined) === (ratio === undefined)) throw new InvalidRequest('give exactly one of --merges N or --ratio R', 'merges');
  if (!values.calib) throw new InvalidRequest('--calib FILE is required: a text file to calibrate on (e.g. a few hundred KB of text like the model\'s training data)', 'calib');
  const scoring = (values.scores as string | undefined) ?? 'leverage';
  if (scoring !== 'leverage' && scoring !== 'magnitude') throw new InvalidRequest('--scores must be leverage or magnitude', 'scores');
  const flatOnly = ['no-prune', 'no-compensate', 'refit-o', 'no-refit-o', 'rho', 'scores', 'candidates', 'no-search', 'holdout'];
  if (method !== 'flattengpt' && flatOnly.some((k) => values[k])) {
    throw new InvalidRequest(`${flatOnly.map((k) => `--${k}`).join(', ')} apply only to --method flattengpt`, 'method');
  }
  if (values['refit-o'] && values['no-refit-o']) throw new InvalidRequest('give at most one of --refit-o and --no-refit-o', 'refit-o');
  const candidates = num(values.candidates as string | undefined, 'candidates', { min: 1, max: 64, int: true });
  if (candidates !== undefined && values['no-search']) throw new InvalidRequest('give at most one of --candidates N and --no-search', 'candidates');
  const holdout = num(values.holdout as string | undefined, 'holdout', { min: 1, max: 4096, int: true });
  return {
    method: method as Method,
    target: merges !== undefined ? { merges } : { ratio: ratio! },
    calib: {
      file: values.calib as string,
      samples: num(values['calib-samples'] as string | undefined, 'calib-samples', { min: 1, int: true }) ?? 128,
      seq: num(values.seq as string | undefined, 'seq', { min: 2, int: true }),
      seed: num(values.seed as string | undefined, 'seed', { min: 0, int: true }) ?? 0,
    },
    rho: num(values.rho as string | undefined, 'rho', { min: 1e-12 }),
    prune: !values['no-prune'],
    compensate: !values['no-compensate'],
    refitO: values['refit-o'] ? true : values['no-refit-o'] ? false : 'auto',
    search: values['no-search'] || candidates === 1 ? false : { budget: candidates, holdout },
    scoring,
    threads: num(values.threads as string | undefined, 'threads', { min: 1, int: true }),
    evalText: values['eval-text'] as string | undefined,
  };
}

export async function compressCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    method: { type: 'string' },
    merges: { type: 'string' },
    ratio: { type: 'string' },
    calib: { type: 'string' },
    'calib-samples': { type: 'string' },
    seq: { type: 'string' },
    seed: { type: 'string' },
    rho: { type: 'string' },
    scores: { type: 'string' },
    'no-prune': { type: 'boolean' },
    'no-compensate': { type: 'boolean' },
    'refit-o': { type: 'boolean' },
    'no-refit-o': { type: 'boolean' },
    candidates: { type: 'string' },
    'no-search': { type: 'boolean' },
    holdout: { type: 'string' },
    'eval-text': { type: 'string' },
    threads: { type: 'string' },
    tokenizer: { type: 'string' },
    out: { type: 'string' },
  });
  const path = modelArg(positionals, USAGE);
  const job = jobFromFlags(values);
  if (!values.out) throw new InvalidRequest('--out DIR is required', 'out');
  const tty = process.stderr.isTTY;
  const report = await runCompression(path, job, values.out, {
    tokenizer: values.tokenizer,
    onProgress: tty ? (p) => process.stderr.write(`\r\x1b[K${progressLine(p)}`) : undefined,
  });
  if (tty) process.stderr.write('\r\x1b[K');
  const what = report.groups ? `groups ${JSON.stringify(report.groups.filter(([a, b]) => b > a))}` : `removed ${JSON.stringify(report.removed)}`;
  console.log(`${report.method}: ${report.layers_before} -> ${report.layers_after} layers, ${report.params_before} -> ${report.params_after} params, ${what}, ${report.seconds.toFixed(1)} s`);
  if (report.search) console.log(`plan search (${report.candidates?.length} compressions, ${report.search.seconds.toFixed(1)} s): ${report.search.reason}`);
  if (report.evaluation) console.log(`perplexity ${report.evaluation.ppl.toFixed(3)} (dense ${report.evaluation.dense_ppl?.toFixed(3)})`);
  for (const note of report.notes) console.log(`note: ${note}`);
  console.log(report.exported ? `wrote ${values.out} (HF folder + report.json)` : `wrote ${values.out}/report.json`);
}
