/**
 * @module `flatgate generate <model> --prompt TEXT [...]`: prints generated text as it comes.
 */
import { loadModel } from '../model/load.ts';
import { generate } from '../serving/generate/generator.ts';
import { createDecoderSession } from '../serving/session/local-backend.ts';
import { modelArg, num, parse } from './args.ts';

const USAGE = 'flatgate generate <model> --prompt TEXT [--max-tokens N] [--temperature T] [--top-p P] [--top-k K] [--seed S] [--stop S] [--threads N]';

export async function generateCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    prompt: { type: 'string' },
    'max-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    'top-k': { type: 'string' },
    seed: { type: 'string' },
    stop: { type: 'string', multiple: true },
    threads: { type: 'string' },
    tokenizer: { type: 'string' },
  });
  const path = modelArg(positionals, USAGE);
  const params = {
    maxTokens: num(values['max-tokens'], 'max-tokens', { min: 0, int: true }) ?? 256,
    temperature: num(values.temperature, 'temperature', { min: 0, max: 100 }) ?? 1,
    topP: num(values['top-p'], 'top-p', { min: 0, max: 1 }) ?? 1,
    topK: num(values['top-k'], 'top-k', { min: 0, int: true }) ?? 0,
    seed: num(values.seed, 'seed', { min: 0, max: 2 ** 32 - 1, int: true }),
    stop: values.stop ?? [],
  };
  const threads = num(values.threads, 'threads', { min: 1, max: 256, int: true });
  const loaded = await loadModel(path, { tokenizer: values.tokenizer });
  const { model, tokenizer } = loaded;
  const session = await createDecoderSession(model, { threads });
  const ids = tokenizer.encode(values.prompt ?? '', { bos: true });
  process.stdout.write(values.prompt ?? '');
  const it = generate(session, tokenizer, ids, { ...params, stopIds: [model.config.eosTokenId, model.config.bosTokenId] });
  for await (const t of it) process.stdout.write(t.text);
  process.stdout.write('\n');
  await session.release();
}
