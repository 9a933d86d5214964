/**
 * @module POST /v1/completions: validate, call the completion service, shape OpenAI's response (JSON or
 * server-sent events ending with `data: [DONE]`). A client that disconnects stops its generation.
 */
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { randomUUID } from 'node:crypto';
import type { AppEnv } from '../app-env.ts';
import { InvalidRequest } from '../errors.ts';
import { completeStream, scorePrompt, type CompletionParams } from '../serving/completion.ts';
import { completionRequest, type CompletionRequest } from './schemas.ts';
import { parseJson } from './validate.ts';

function toParams(req: CompletionRequest): CompletionParams {
  return {
    prompt: req.prompt,
    maxTokens: req.max_tokens ?? 16,
    temperature: req.temperature ?? 1,
    topP: req.top_p ?? 1,
    topK: req.top_k && req.top_k > 0 ? req.top_k : 0,
    seed: req.seed ?? undefined,
    stop: req.stop == null ? [] : typeof req.stop === 'string' ? [req.stop] : req.stop,
  };
}

/** The completions router. */
export const completionsRoute = new Hono<AppEnv>().post('/v1/completions', async (c) => {
  const req = await parseJson(c, completionRequest);
  const served = c.var.pool.get(req.model);
  const params = toParams(req);
  const n = req.n ?? 1;
  const id = `cmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const base = { id, object: 'text_completion', created, model: served.id };

  if (req.stream) {
    if (req.echo && req.logprobs != null) throw new InvalidRequest('echo with logprobs is not supported when streaming', 'stream');
    return streamSSE(c, async (sse) => {
      const abort = new AbortController();
      sse.onAbort(() => abort.abort());
      for (let index = 0; index < n; index++) {
        const it = completeStream(served, { ...params, seed: params.seed === undefined ? undefined : params.seed + index }, abort.signal);
        if (req.echo) await sse.writeSSE({ data: JSON.stringify({ ...base, choices: [{ index, text: params.prompt, finish_reason: null, logprobs: null }] }) });
        for (;;) {
          const r = await it.next();
          if (r.done) {
            await sse.writeSSE({ data: JSON.stringify({ ...base, choices: [{ index, text: '', finish_reason: r.value.finishReason, logprobs: null }] }) });
            break;
          }
          if (r.value.text) await sse.writeSSE({ data: JSON.stringify({ ...base, choices: [{ index, text: r.value.text, finish_reason: null, logprobs: null }] }) });
        }
      }
      await sse.writeSSE({ data: '[DONE]' });
    });
  }

  const choices = [];
  let promptTokens = 0;
  let completionTokens = 0;
  for (let index = 0; index < n; index++) {
    let text = '';
    const it = completeStream(served, { ...params, seed: params.seed === undefined ? undefined : params.seed + index }, c.req.raw.signal);
    let end;
    for (;;) {
      const r = await it.next();
      if (r.done) {
        end = r.value;
        break;
      }
      text += r.value.text;
    }
    promptTokens = end.promptTokens;
    completionTokens += end.completionTokens;
    const logprobs = req.echo && req.logprobs != null && params.maxTokens === 0 ? await scorePrompt(served, params.prompt, req.logprobs) : null;
    choices.push({ index, text: req.echo ? params.prompt + text : text, finish_reason: end.finishReason, logprobs });
  }
  return c.json({
    ...base,
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  });
});
