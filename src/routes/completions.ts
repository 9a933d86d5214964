/**
 * @module POST /v1/completions: validate, run through the inference service, shape OpenAI's response
 * (JSON, or server-sent events ending with `data: [DONE]`). The prompt may be a list (texts or token-id
 * lists): choice `i` of prompt `p` has index `p * n + i`, as in vLLM. `echo` + `logprobs` +
 * `max_tokens: 0` scores the prompt as vLLM does. A client that disconnects stops its generation.
 */
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AppEnv } from '../app-env.ts';
import { InvalidRequest } from '../errors.ts';
import type { Tokenizer } from '../model/types.ts';
import type { CompletionEnd, CompletionParams } from '../serving/completion.ts';
import { runCompletion, scoreWithSlot, type Target } from '../serving/inference.ts';
import { checkPrompts, promptList, type Prompt } from './prompts.ts';
import { choiceParams, completionLogprobs, refuseUnsupported, runChoices, toParams, usageOf, targetOf } from './run-choices.ts';
import { completionRequest, type CompletionRequest } from './schemas.ts';
import { LogprobStream } from './stream-logprobs.ts';
import { parseJson } from './validate.ts';

/** What both response paths need about the request's prompts. */
interface Batch {
  req: CompletionRequest;
  target: Target;
  params: CompletionParams;
  prompts: Prompt[];
  promptIds: number[][];
  texts: string[];
  tokenizer: Tokenizer;
  n: number;
  arrival: number;
  base: { id: string; object: string; created: number; model: string };
}

/** Usage summed over prompts, each prompt counted once however many choices it had. */
function totalUsage(groups: { end: CompletionEnd }[][]) {
  const parts = groups.map(usageOf);
  const prompt_tokens = parts.reduce((s, u) => s + u.prompt_tokens, 0);
  const completion_tokens = parts.reduce((s, u) => s + u.completion_tokens, 0);
  return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
}

function streamChoices(c: Context<AppEnv>, b: Batch) {
  const { req, n } = b;
  if (req.echo && req.logprobs != null) throw new InvalidRequest('echo with logprobs is not supported when streaming', 'stream');
  return streamSSE(c, async (sse) => {
    const abort = new AbortController();
    sse.onAbort(() => abort.abort());
    const groups: { end: CompletionEnd }[][] = [];
    for (let p = 0; p < b.prompts.length; p++) {
      const ends = [];
      for (let i = 0; i < n; i++) {
        const index = p * n + i;
        const chunk = (text: string, finish: string | null, logprobs: unknown = null) =>
          sse.writeSSE({ data: JSON.stringify({ ...b.base, choices: [{ index, text, finish_reason: finish, logprobs }] }) });
        if (req.echo) await chunk(b.texts[p], null);
        const lp = req.logprobs != null ? new LogprobStream(b.tokenizer, b.promptIds[p], req.echo ? b.texts[p].length : 0) : null;
        const it = runCompletion(c.var.inference, b.target, choiceParams({ ...b.params, prompt: b.prompts[p] }, i), b.arrival, abort.signal);
        for (;;) {
          const r = await it.next();
          if (r.done) {
            ends.push({ end: r.value });
            await chunk('', r.value.finishReason);
            break;
          }
          if (lp) await chunk(r.value.text, null, lp.completion(r.value));
          else if (r.value.text) await chunk(r.value.text, null);
        }
      }
      groups.push(ends);
    }
    if (req.stream_options?.include_usage) await sse.writeSSE({ data: JSON.stringify({ ...b.base, choices: [], usage: totalUsage(groups) }) });
    await sse.writeSSE({ data: '[DONE]' });
  });
}

async function jsonChoices(c: Context<AppEnv>, b: Batch) {
  const { req, n } = b;
  const scoring = req.echo && req.logprobs != null;
  const choices = [];
  const groups = [];
  for (let p = 0; p < b.prompts.length; p++) {
    const finished = await runChoices(c, b.target, { ...b.params, prompt: b.prompts[p] }, n, b.arrival);
    groups.push(finished);
    const promptLogprobs = scoring ? await scoreWithSlot(c.var.inference, b.target, b.prompts[p], req.logprobs ?? 0, c.req.raw.signal) : null;
    const echo = req.echo ? b.texts[p] : '';
    for (const [i, ch] of finished.entries()) {
      let logprobs = null;
      if (req.logprobs != null) {
        const gen = completionLogprobs(b.tokenizer, ch.end.promptIds, ch.deltas, echo.length);
        logprobs = promptLogprobs
          ? {
              tokens: [...promptLogprobs.tokens, ...gen.tokens],
              token_logprobs: [...promptLogprobs.token_logprobs, ...gen.token_logprobs],
              top_logprobs: [...promptLogprobs.top_logprobs, ...gen.top_logprobs],
              text_offset: [...promptLogprobs.text_offset, ...gen.text_offset],
            }
          : gen;
      }
      choices.push({ index: p * n + i, text: echo + ch.text, finish_reason: ch.end.finishReason, logprobs });
    }
  }
  return c.json({ ...b.base, choices, usage: totalUsage(groups) });
}

/** The completions router. */
export const completionsRoute = new Hono<AppEnv>().post('/v1/completions', async (c) => {
  const arrival = performance.now();
  const req = await parseJson(c, completionRequest);
  refuseUnsupported(req);
  const prompts = promptList(req.prompt);
  const target = await targetOf(c, req.model, req.user);
  const params = toParams(req, prompts[0], 16, req.logprobs ?? null, prompts.length);
  const loaded = await target.served.loaded();
  const promptIds = checkPrompts(loaded, prompts, params.maxTokens, params.logitBias);
  const { tokenizer } = loaded;
  const texts = prompts.map((p) => (typeof p === 'string' ? p : tokenizer.decode(p)));
  const base = { id: `cmpl-${crypto.randomUUID()}`, object: 'text_completion', created: Math.floor(Date.now() / 1000), model: target.served.id };
  c.header('x-flatgate-variant', target.served.id);
  const batch: Batch = { req, target, params, prompts, promptIds, texts, tokenizer, n: req.n ?? 1, arrival, base };
  return req.stream ? streamChoices(c, batch) : jsonChoices(c, batch);
});
