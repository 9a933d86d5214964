/**
 * @module POST /v1/chat/completions: messages rendered with the tokenizer's chat template, then the same
 * inference path as completions; JSON or `chat.completion.chunk` server-sent events.
 */
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AppEnv } from '../app-env.ts';
import { renderChat } from '../serving/chat-template.ts';
import { runCompletion } from '../serving/inference.ts';
import { checkPrompts } from './prompts.ts';
import { chatLogprobs, choiceParams, refuseUnsupported, runChoices, toParams, usageOf, targetOf } from './run-choices.ts';
import { LogprobStream } from './stream-logprobs.ts';
import { chatRequest, type ChatRequest } from './schemas.ts';
import { parseJson } from './validate.ts';

function messagesOf(req: ChatRequest) {
  return req.messages.map((m) => ({
    role: m.role,
    content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join(''),
  }));
}

/** The chat completions router. */
export const chatCompletionsRoute = new Hono<AppEnv>().post('/v1/chat/completions', async (c) => {
  const arrival = performance.now();
  const req = await parseJson(c, chatRequest);
  refuseUnsupported(req);
  const target = await targetOf(c, req.model, req.user);
  const loaded = await target.served.loaded();
  const prompt = await renderChat(messagesOf(req), loaded.tokenizer.tokenizerConfig?.());
  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  const defaultMax = loaded.model.config.maxPositions - loaded.tokenizer.encode(prompt, { bos: true }).length;
  const params = toParams({ ...req, max_tokens: maxTokens }, prompt, Math.max(0, Math.min(defaultMax, 256)), req.logprobs ? (req.top_logprobs ?? 0) : null);
  const [promptIds] = checkPrompts(loaded, [prompt], params.maxTokens, params.logitBias);
  const n = req.n ?? 1;
  const base = { id: `chatcmpl-${crypto.randomUUID()}`, created: Math.floor(Date.now() / 1000), model: target.served.id };
  c.header('x-flatgate-variant', target.served.id);

  // checkPrompts above has refused a prompt or max_tokens past the context: a stream opens only for a valid request
  if (req.stream) {
    return streamSSE(c, async (sse) => {
      const abort = new AbortController();
      sse.onAbort(() => abort.abort());
      const chunk = (choices: unknown[], extra: object = {}) => sse.writeSSE({ data: JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra }) });
      const ends = [];
      for (let index = 0; index < n; index++) {
        await chunk([{ index, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }]);
        const lp = req.logprobs ? new LogprobStream(loaded.tokenizer, promptIds) : null;
        const it = runCompletion(c.var.inference, target, choiceParams(params, index), arrival, abort.signal);
        for (;;) {
          const r = await it.next();
          if (r.done) {
            ends.push({ end: r.value });
            await chunk([{ index, delta: {}, finish_reason: r.value.finishReason, logprobs: null }]);
            break;
          }
          if (lp) await chunk([{ index, delta: { content: r.value.text }, finish_reason: null, logprobs: lp.chat(r.value) }]);
          else if (r.value.text) await chunk([{ index, delta: { content: r.value.text }, finish_reason: null, logprobs: null }]);
        }
      }
      if (req.stream_options?.include_usage) await chunk([], { usage: usageOf(ends) });
      await sse.writeSSE({ data: '[DONE]' });
    });
  }

  const finished = await runChoices(c, target, params, n, arrival);
  const choices = finished.map((ch, index) => ({
    index,
    message: { role: 'assistant', content: ch.text },
    finish_reason: ch.end.finishReason,
    logprobs: req.logprobs ? chatLogprobs(loaded.tokenizer, ch.end.promptIds, ch.deltas) : null,
  }));
  return c.json({ ...base, object: 'chat.completion', choices, usage: usageOf(finished) });
});
