/**
 * @module `flatgate eval <model> [--ppl FILE] [--seq N] [--tasks a,b] [--limit N] [--against MODEL]
 * [--data-dir DIR] [--threads N] [--bos] [--json]`: perplexity, zero-shot accuracy (with its binomial standard
 * error) and agreement. Task files come from `--data-dir`, else FLATGATE_TASK_DATA_DIR, else the bundled subsets.
 */
import { SETTINGS } from '../config.ts';
import { InvalidRequest } from '../errors.ts';
import { evaluateModel, type EvaluationResult } from '../compression/eval/evaluate.ts';
import { TASKS, taskDefinition } from '../compression/eval/tasks.ts';
import { loadModel } from '../model/load.ts';
import { modelArg, num, parse } from './args.ts';

const USAGE =
  'flatgate eval <model> [--ppl FILE] [--seq N] [--tasks piqa,arc_easy,...|all] [--limit N] [--against MODEL] [--data-dir DIR] [--threads N] [--bos] [--json]';

function printText(r: EvaluationResult): void {
  if (r.ppl !== undefined) console.log(`ppl ${r.ppl.toFixed(4)}  (nll ${r.nll!.toFixed(6)}, ${r.tokens} tokens)`);
  for (const [name, s] of Object.entries(r.tasks)) {
    const norm = s.acc_norm === undefined ? '' : `  acc_norm ${s.acc_norm.toFixed(4)} ± ${s.acc_norm_stderr!.toFixed(4)}`;
    console.log(`${name.padEnd(14)} acc ${s.acc.toFixed(4)} ± ${s.acc_stderr.toFixed(4)}${norm}  n ${s.n}`);
  }
  if (r.agreement) console.log(`agreement      top1 ${r.agreement.top1.toFixed(4)}  kl ${r.agreement.kl.toFixed(6)}  (${r.agreement.positions} positions)`);
}

/** Runs `flatgate eval`. */
export async function evalCommand(argv: string[], env: Record<string, string | undefined> = process.env): Promise<void> {
  const { values, positionals } = parse(argv, {
    ppl: { type: 'string' },
    seq: { type: 'string' },
    tasks: { type: 'string' },
    limit: { type: 'string' },
    against: { type: 'string' },
    'data-dir': { type: 'string' },
    threads: { type: 'string' },
    tokenizer: { type: 'string' },
    bos: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const path = modelArg(positionals, USAGE);
  const tasks = values.tasks === 'all' ? Object.keys(TASKS) : values.tasks?.split(',').map((t) => t.trim()).filter(Boolean);
  if (!values.ppl && !tasks?.length && !values.against) throw new InvalidRequest(`nothing to evaluate; usage: ${USAGE}`);
  tasks?.forEach(taskDefinition);
  if (values.against && !values.ppl) throw new InvalidRequest('--against needs --ppl FILE (the held-out text to compare on)', 'against');
  const opts = {
    pplFile: values.ppl,
    seq: num(values.seq, 'seq', { min: 1, int: true }),
    tasks,
    limit: num(values.limit, 'limit', { min: 1, int: true }),
    // the one config value the worker uses too (only this variable is read: others cannot fail an eval)
    dataDir: values['data-dir'] ?? SETTINGS.taskDataDir.parse(env.FLATGATE_TASK_DATA_DIR, []),
    threads: num(values.threads, 'threads', { min: 1, int: true }),
    bos: values.bos,
  };
  const loaded = await loadModel(path, { tokenizer: values.tokenizer });
  const against = values.against ? await loadModel(values.against) : undefined;
  const tty = process.stderr.isTTY;
  const result = await evaluateModel(loaded, {
    ...opts,
    against,
    onProgress: (stage, d, n) => tty && process.stderr.write(`\r\x1b[K${stage} ${Math.round((100 * d) / n)}%`),
  });
  if (tty) process.stderr.write('\r\x1b[K');
  if (values.json) console.log(JSON.stringify(result));
  else printText(result);
}
