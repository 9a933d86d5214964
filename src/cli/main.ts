/**
 * @module The `flatgate` command line: dispatches to a command and turns every error into one line on
 * stderr and a non-zero exit.
 */
import { FlatgateError } from '../errors.ts';
import { compressCommand } from './compress.ts';
import { convertCommand } from './convert.ts';
import { evalCommand } from './eval.ts';
import { generateCommand } from './generate.ts';
import { inspectCommand } from './inspect.ts';
import { scoreCommand } from './score.ts';
import { keysCommand } from './keys.ts';
import { workerCommand } from './worker.ts';

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  inspect: inspectCommand,
  generate: generateCommand,
  score: scoreCommand,
  convert: convertCommand,
  compress: compressCommand,
  eval: evalCommand,
  worker: (argv) => workerCommand(argv),
  keys: keysCommand,
};

const HELP = `usage: flatgate <command> [options]

commands:
  worker --gateway URL [--token T] [--id ID] [--once]   compression worker (pulls jobs; FLATGATE_S3_*, FLATGATE_TASK_DATA_DIR env)
  keys create|list|revoke                        API keys (create --owner NAME --scopes inference,upload,admin)
  inspect <model> [--json]                       architecture, sizes, parameter count
  generate <model> --prompt TEXT [--max-tokens N] [--temperature T] [--top-p P] [--top-k K] [--seed S]
  score <model> --text-file F [--seq N] [--json] perplexity of a text file
  convert <model> --to hf|onnx|gguf --out PATH   write another format
  compress <model> --method flattengpt|shortgpt|sleb (--merges N | --ratio R) --calib FILE --out DIR
           [--calib-samples N] [--seq N] [--seed S] [--rho X] [--no-prune] [--no-compensate] [--eval-text FILE]
  eval <model> [--ppl F] [--tasks a,b|all] [--limit N] [--against M] [--data-dir D] [--json]  perplexity, zero-shot accuracy, agreement
           (task files: --data-dir, else FLATGATE_TASK_DATA_DIR, else the bundled fixtures/tasks)

<model>: a Hugging Face folder, a .tar/.tar.gz of one, or a llama2.c .bin (--tokenizer FILE, or a
tokenizer.bin / tok*.bin beside it)`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(HELP);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`flatgate: unknown command '${name}'\n\n${HELP}`);
    return 2;
  }
  try {
    await command(rest);
    return 0;
  } catch (err) {
    if (err instanceof FlatgateError) {
      console.error(`flatgate: ${err.message}`);
      return 1;
    }
    const e = err as NodeJS.ErrnoException;
    console.error(`flatgate: ${e?.code === 'ENOENT' || e?.code === 'EACCES' ? e.message : `internal error: ${e?.stack ?? err}`}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
