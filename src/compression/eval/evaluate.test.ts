import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../model/load.ts';
import type { LoadedModel } from '../../model/types.ts';
import { perplexity, scoreTokens } from '../../serving/score.ts';
import { createDecoderSession } from '../../serving/session/local-backend.ts';
import { evaluateModel } from './evaluate.ts';
import { encodePair } from './multiple-choice.ts';
import { requestsOf } from './task-types.ts';
import { loadTask } from './tasks.ts';
import { EVAL_TEXT, STORIES260K } from '../../../test/fixtures/paths.ts';

const MODEL = STORIES260K;
const TEXT = EVAL_TEXT;
let loaded: LoadedModel;

beforeAll(async () => {
  loaded = await loadModel(MODEL);
});

describe('evaluateModel on stories260K and the real task files', () => {
  it('perplexity as `flatgate score` computes it, agreement with itself exact, deterministic', async () => {
    const opts = { pplFile: TEXT, seq: 128, tasks: ['piqa', 'winogrande'], limit: 6, against: loaded, threads: 1 };
    const r = await evaluateModel(loaded, opts);
    const s = await createDecoderSession(loaded.model, { threads: 1 });
    const p = await perplexity(s, loaded.tokenizer.encode(await readFile(TEXT, 'utf8')), { seq: 128, bos: loaded.tokenizer.bosId });
    await s.release();
    // evaluation streams the model block by block, `flatgate score` runs the whole-model session: the
    // same float32 arithmetic in another order of sums
    expect(Math.abs(r.ppl! / p.ppl - 1)).toBeLessThan(1e-6);
    expect(r.tokens).toBe(p.tokens);
    expect(r.agreement).toEqual({ top1: 1, kl: 0, positions: p.tokens });
    expect(Object.keys(r.tasks)).toEqual(['piqa', 'winogrande']);
    expect(r.tasks.piqa.n).toBe(6);
    expect(r.tasks.winogrande.acc_norm).toBeUndefined();
    const again = await evaluateModel(loaded, opts);
    expect({ ...again, seconds: {} }).toEqual({ ...r, seconds: {} });
  });

  it('task accuracy equals one-sequence-at-a-time scoring through scoreTokens', async () => {
    const examples = await loadTask('arc_easy', undefined, 8);
    const r = await evaluateModel(loaded, { tasks: ['arc_easy'], limit: 8, threads: 1 });
    const s = await createDecoderSession(loaded.model, { threads: 1 });
    let hits = 0;
    let hitsNorm = 0;
    for (const ex of examples) {
      const lls: number[] = [];
      for (const q of requestsOf(ex)) {
        const { context, continuation } = encodePair(loaded.tokenizer, q.context, q.continuation);
        const { logprobs } = await scoreTokens(s, [...context, ...continuation]);
        lls.push(logprobs.slice(logprobs.length - continuation.length).reduce((a, b) => a + b, 0));
      }
      const norm = lls.map((ll, i) => ll / ex.choices[i].length);
      if (lls.indexOf(Math.max(...lls)) === ex.gold) hits++;
      if (norm.indexOf(Math.max(...norm)) === ex.gold) hitsNorm++;
    }
    await s.release();
    const se = (k: number) => Math.sqrt((k / 8) * (1 - k / 8) / 8);
    expect(r.tasks.arc_easy).toEqual({ acc: hits / 8, acc_stderr: se(hits), acc_norm: hitsNorm / 8, acc_norm_stderr: se(hitsNorm), n: 8 });
  });

  it('rejects bad input before any forward, one line each', async () => {
    await expect(evaluateModel(loaded, { tasks: ['piqa', 'nope'] })).rejects.toThrow(/unknown task 'nope'/);
    await expect(evaluateModel(loaded, { against: loaded })).rejects.toThrow(/--ppl FILE with --against/);
    await expect(evaluateModel(loaded, { pplFile: '/nonexistent/x.txt' })).rejects.toThrow('cannot read /nonexistent/x.txt');
    await expect(evaluateModel(loaded, { tasks: ['piqa'], dataDir: '/nonexistent' })).rejects.toThrow(/piqa: cannot read \/nonexistent\/piqa/);
    await expect(evaluateModel(loaded, { tasks: ['piqa'], limit: 0 })).rejects.toThrow(/limit must be a positive integer/);
  });
});
