/**
 * Issue 11's acceptance: the gateway driven the way lm-evaluation-harness 0.4's `local-completions`
 * model drives it with `tokenizer_backend=remote` and `tokenized_requests=True` (request shapes written
 * from the harness's documented behaviour: `/tokenizer_info` and `/tokenize` at the server root,
 * `prompt` as a list of token-id lists, `echo` + `logprobs: 1` + `max_tokens: 1`, scores read from
 * `token_logprobs[ctxlen:-1]`), then PIQA accuracy computed from the responses as the harness computes
 * it, compared with `flatgate eval` on the same items. No Python.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateModel } from '../../src/compression/eval/evaluate.ts';
import { loglikelihoods } from '../../src/compression/eval/multiple-choice.ts';
import { createDecoderSession } from '../../src/serving/session/local-backend.ts';
import { STORIES260K, TASK_DATA_DIR } from '../fixtures/paths.ts';
import { startGateway, VARIANT, type TestGateway } from './gateway-server.ts';

const LIMIT = 24;
/** Batch sizes the requests are sent in, in turn (the harness's `batch_size`; 1 sends `[[ids]]`). */
const BATCHES = [1, 4, 7];

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(() => gw.close());

/** PIQA as the harness's task yaml defines it: `Question: {{goal}}\nAnswer:`, choices [sol1, sol2], target delimiter " ". */
function piqaDocs(limit: number) {
  const lines = readFileSync(`${TASK_DATA_DIR}/piqa/valid.jsonl`, 'utf8').split('\n').filter(Boolean).slice(0, limit);
  const labels = readFileSync(`${TASK_DATA_DIR}/piqa/valid-labels.lst`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  return lines.map((line, i) => {
    const doc = JSON.parse(line) as { goal: string; sol1: string; sol2: string };
    return { context: `Question: ${doc.goal}\nAnswer:`, choices: [doc.sol1, doc.sol2], gold: labels[i] };
  });
}

async function postJson(url: string, body: unknown) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(r.status, await r.clone().text()).toBe(200);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (await r.json()) as any;
}

/** The harness's RemoteTokenizer: the server root is base_url without `/v1/completions`. */
function remoteTokenizer(baseUrl: string) {
  const root = baseUrl.replace('/v1/completions', '').replace(/\/$/, '');
  return {
    info: async () => (await (await fetch(`${root}/tokenizer_info`)).json()) as { eos_token: string; model_max_length: number },
    encode: async (text: string): Promise<number[]> => (await postJson(`${root}/tokenize`, { prompt: text, add_special_tokens: false })).tokens,
  };
}

/** log-likelihoods of (context, continuation) pairs through the gateway, as the harness requests and parses them. */
async function harnessLoglikelihoods(model: string, pairs: { context: string; continuation: string }[], maxTokens = 1) {
  const baseUrl = `${gw.url}/v1/completions`;
  const tok = remoteTokenizer(baseUrl);
  const info = await tok.info();
  const eot = (await tok.encode(info.eos_token))[0];
  const maxLength = info.model_max_length;
  const reqs = [];
  for (let { context, continuation } of pairs) {
    // _encode_pair: trailing spaces move to the continuation; whole string encoded, split at the context's length
    let contextEnc: number[];
    let continuationEnc: number[];
    if (context === '') {
      contextEnc = [eot];
      continuationEnc = await tok.encode(continuation);
    } else {
      const spaces = context.length - context.trimEnd().length;
      if (spaces > 0) {
        continuation = context.slice(-spaces) + continuation;
        context = context.slice(0, -spaces);
      }
      const whole = await tok.encode(context + continuation);
      contextEnc = await tok.encode(context);
      continuationEnc = whole.slice(contextEnc.length);
    }
    const all = [...contextEnc, ...continuationEnc];
    reqs.push({ inp: all.slice(-maxLength), ctxlen: contextEnc.length - Math.max(0, all.length - maxLength) });
  }
  const out: { ll: number; greedy: boolean }[] = [];
  for (let at = 0, b = 0; at < reqs.length; b++) {
    const chunk = reqs.slice(at, at + BATCHES[b % BATCHES.length]);
    at += chunk.length;
    const body = { model, prompt: chunk.map((r) => r.inp), temperature: 0, max_tokens: maxTokens, logprobs: 1, seed: 1234, echo: true };
    const res = await postJson(baseUrl, body);
    const choices = [...res.choices].sort((x, y) => x.index - y.index);
    expect(choices).toHaveLength(chunk.length);
    choices.forEach((choice, i) => {
      const { ctxlen } = chunk[i];
      expect(ctxlen).toBeGreaterThan(0);
      const end = maxTokens === 0 ? undefined : -1;
      const lps = choice.logprobs.token_logprobs.slice(ctxlen, end) as number[];
      const tops = choice.logprobs.top_logprobs.slice(ctxlen, end) as Record<string, number>[];
      out.push({ ll: lps.reduce((s, x) => s + x, 0), greedy: lps.every((lp, j) => lp === Math.max(...Object.values(tops[j]))) });
    });
  }
  return out;
}

/** The harness's multiple_choice process_results: acc = argmax(ll), acc_norm = argmax(ll / len(choice)). */
function harnessAccuracy(docs: ReturnType<typeof piqaDocs>, lls: number[]) {
  const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));
  let acc = 0;
  let accNorm = 0;
  docs.forEach((doc, d) => {
    const ll = lls.slice(2 * d, 2 * d + 2);
    if (argmax(ll) === doc.gold) acc++;
    if (argmax(ll.map((x, i) => x / [...doc.choices[i]].length)) === doc.gold) accNorm++;
  });
  return { acc: acc / docs.length, acc_norm: accNorm / docs.length, n: docs.length };
}

/** The accuracies of an evaluation's task score (it also carries standard errors, which the harness computes its own way). */
const accuracies = (t: { acc: number; acc_norm?: number; n: number }) => ({ acc: t.acc, acc_norm: t.acc_norm, n: t.n });

const pairsOf = (docs: ReturnType<typeof piqaDocs>) => docs.flatMap((d) => d.choices.map((c) => ({ context: d.context, continuation: ` ${c}` })));

describe('lm-evaluation-harness local-completions against the gateway', () => {
  it('PIQA accuracy through the API equals flatgate eval on the same items', async () => {
    const docs = piqaDocs(LIMIT);
    const results = await harnessLoglikelihoods('stories260K', pairsOf(docs));
    const viaApi = harnessAccuracy(docs, results.map((r) => r.ll));

    const bin = fileURLToPath(new URL('../../bin/flatgate.mjs', import.meta.url));
    const cli = spawnSync(process.execPath, [bin, 'eval', STORIES260K, '--tasks', 'piqa', '--limit', String(LIMIT), '--threads', '1', '--json'], { encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(0);
    expect(viaApi).toEqual(accuracies(JSON.parse(cli.stdout).tasks.piqa));

    // and item by item, the same log-likelihoods as the evaluation's batched scoring
    const session = await createDecoderSession(gw.original.model, { threads: 1 });
    const direct = await loglikelihoods(session, gw.original.tokenizer, pairsOf(docs));
    await session.release();
    results.forEach((r, i) => expect(Math.abs(r.ll - direct[i])).toBeLessThan(1e-3));
  });

  it('the compressed variant too, and max_tokens 0 scores the same prompt tokens', async () => {
    const docs = piqaDocs(8);
    const results = await harnessLoglikelihoods(VARIANT, pairsOf(docs));
    const variant = await gw.pool.get(VARIANT).loaded();
    const evaluated = await evaluateModel(variant, { tasks: ['piqa'], limit: 8, threads: 1 });
    expect(harnessAccuracy(docs, results.map((r) => r.ll))).toEqual(accuracies(evaluated.tasks.piqa));
    const scored = await harnessLoglikelihoods(VARIANT, pairsOf(docs), 0);
    scored.forEach((r, i) => expect(r.ll).toBe(results[i].ll));
  });
});
