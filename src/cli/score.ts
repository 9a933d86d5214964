/**
 * @module `flatgate score <model> --text-file F [--seq N] [--json]`: perplexity of a text file.
 */
import { readFile } from 'node:fs/promises';
import { InvalidRequest } from '../errors.ts';
import { loadModel } from '../model/load.ts';
import { perplexity } from '../serving/score.ts';
import { createDecoderSession } from '../serving/session/local-backend.ts';
import { modelArg, num, parse } from './args.ts';

export async function scoreCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    'text-file': { type: 'string' },
    seq: { type: 'string' },
    json: { type: 'boolean' },
    threads: { type: 'string' },
    tokenizer: { type: 'string' },
  });
  const path = modelArg(positionals, 'flatgate score <model> --text-file F [--seq N] [--json]');
  if (!values['text-file']) throw new InvalidRequest('--text-file is required', 'text-file');
  const text = await readFile(values['text-file'], 'utf8').catch(() => {
    throw new InvalidRequest(`cannot read ${values['text-file']}`, 'text-file');
  });
  const loaded = await loadModel(path, { tokenizer: values.tokenizer });
  const { model, tokenizer } = loaded;
  const seq = num(values.seq, 'seq', { min: 1, int: true }) ?? model.config.maxPositions - 1;
  const session = await createDecoderSession(model, { threads: num(values.threads, 'threads', { min: 1, int: true }) });
  const r = await perplexity(session, tokenizer.encode(text), {
    seq,
    bos: tokenizer.bosId,
    onProgress: (d, t) => process.stderr.isTTY && process.stderr.write(`\rscoring ${Math.round((100 * d) / t)}%`),
  });
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  await session.release();
  if (values.json) console.log(JSON.stringify(r));
  else console.log(`tokens ${r.tokens}  nll ${r.nll.toFixed(6)}  ppl ${r.ppl.toFixed(4)}`);
}
