/**
 * @module POST /v1/completions: validate, run through the inference service, shape OpenAI's response
 * (JSON, or server-sent events ending with `data: [DONE]`). `echo` + `logprobs` + `max_tokens: 0` scores
 * the prompt as vLLM does. A client that disconnects stops its generation.
 */
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AppEnv } from '../app-env.ts';
import { InvalidRequest } from '../errors.ts';
import { encodePrompt, scorePrompt } from '../serving/completion.ts';
import { runCompletion, type Target } from '../serving/inference.ts';
import { choiceParams, completionLogprobs, runChoices, toParams, usageOf, targetOf } from './run-choices.ts';
import { completionRequest } from './schemas.ts';
import { parseJson } from './validate.ts';

/** Scores a prompt holding a slot of the variant's scheduler, like any other request on it. */
async function scoreWithSlot(target: Target, prompt: string | readonly number[], topK: number, signal: AbortSignal) {
  const slot = await target.served.scheduler.acquire(signal);
  try {
    return await scorePrompt(target.served, prompt, topK);
  } finally {
    slot.release();
  }
}

/** The completions router. */
export const completionsRoute = new Hono<AppEnv>().post('/v1/completions', async (c) => {
  const arrival = performance.now();
  const req = await parseJson(c, completionRequest);
  const target = await targetOf(c, req.model, req.user);
  const params = toParams(req, req.prompt, 16, req.logprobs ?? 0);
  const n = req.n ?? 1;
  const base = { id: `cmpl-${crypto.randomUUID()}`, object: 'text_completion', created: Math.floor(Date.now() / 1000), model: target.served.id };
  c.header('x-flatgate-variant', target.served.id);
  const promptText = typeof req.prompt === 'string' ? req.prompt : (await target.served.loaded()).tokenizer.decode(req.prompt);

  if (req.stream) {
    if (req.echo && req.logprobs != null) throw new InvalidRequest('echo with logprobs is not supported when streaming', 'stream');
    // once the stream opens the status is 200: check the prompt and max_tokens against the context first
    encodePrompt(await target.served.loaded(), params.prompt, params.maxTokens);
    return streamSSE(c, async (sse) => {
      const abort = new AbortController();
      sse.onAbort(() => abort.abort());
      const ends = [];
      for (let index = 0; index < n; index++) {
        const chunk = (text: string, finish: string | null) => sse.writeSSE({ data: JSON.stringify({ ...base, choices: [{ index, text, finish_reason: finish, logprobs: null }] }) });
        if (req.echo) await chunk(promptText, null);
        const it = runCompletion(c.var.inference, target, choiceParams(params, index), arrival, abort.signal);
        for (;;) {
          const r = await it.next();
          if (r.done) {
            ends.push({ end: r.value });
            await chunk('', r.value.finishReason);
            break;
          }
          if (r.value.text) await chunk(r.value.text, null);
        }
      }
      if (req.stream_options?.include_usage) await sse.writeSSE({ data: JSON.stringify({ ...base, choices: [], usage: usageOf(ends) }) });
      await sse.writeSSE({ data: '[DONE]' });
    });
  }

  const finished = await runChoices(c, target, params, n, arrival);
  const { tokenizer } = await target.served.loaded();
  const scoring = req.echo && req.logprobs != null;
  const promptLogprobs = scoring ? await scoreWithSlot(target, req.prompt, req.logprobs ?? 0, c.req.raw.signal) : null;
  const choices = finished.map((ch, index) => {
    let logprobs = null;
    if (req.logprobs != null) {
      const gen = completionLogprobs(tokenizer, ch.end.promptIds, ch.deltas, req.echo ? promptText.length : 0);
      logprobs = promptLogprobs
        ? {
            tokens: [...promptLogprobs.tokens, ...gen.tokens],
            token_logprobs: [...promptLogprobs.token_logprobs, ...gen.token_logprobs],
            top_logprobs: [...promptLogprobs.top_logprobs, ...gen.top_logprobs],
            text_offset: [...promptLogprobs.text_offset, ...gen.text_offset],
          }
        : gen;
    }
    return { index, text: req.echo ? promptText + ch.text : ch.text, finish_reason: ch.end.finishReason, logprobs };
  });
  return c.json({ ...base, choices, usage: usageOf(finished) });
});
