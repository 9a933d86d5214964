/**
 * @module Response schemas for the OpenAPI document (requests are validated by the zod schemas of the
 * routes themselves; responses are described here, OpenAI's and vLLM's shapes).
 */
import { z } from 'zod';

/** OpenAI's error body, every 4xx/5xx. */
export const errorBody = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
});

const usage = z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() });
const completionLogprobs = z.object({
  tokens: z.array(z.string()),
  token_logprobs: z.array(z.number().nullable()),
  top_logprobs: z.array(z.record(z.string(), z.number()).nullable()),
  text_offset: z.array(z.number().int()),
});
const tokenLogprob = z.object({ token: z.string(), logprob: z.number(), bytes: z.array(z.number().int()) });
const chatLogprobs = z.object({ content: z.array(tokenLogprob.extend({ top_logprobs: z.array(tokenLogprob) })) });
const finish = z.enum(['stop', 'length']).nullable();

/** POST /v1/completions (JSON; streamed chunks have the same choices, one token's worth each). */
export const completionResponse = z.object({
  id: z.string(),
  object: z.literal('text_completion'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(z.object({ index: z.number().int(), text: z.string(), finish_reason: finish, logprobs: completionLogprobs.nullable() })),
  usage: usage.optional(),
});

/** POST /v1/chat/completions. */
export const chatResponse = z.object({
  id: z.string(),
  object: z.enum(['chat.completion', 'chat.completion.chunk']),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      message: z.object({ role: z.literal('assistant'), content: z.string() }).optional(),
      delta: z.object({ role: z.string().optional(), content: z.string().optional() }).optional(),
      finish_reason: finish,
      logprobs: chatLogprobs.nullable(),
    }),
  ),
  usage: usage.optional(),
});

const modelCard = z.object({ id: z.string(), object: z.literal('model'), created: z.number().int(), owned_by: z.string(), parent: z.string().nullable().optional(), root: z.string().optional() });

/** GET /v1/models. */
export const modelList = z.object({ object: z.literal('list'), data: z.array(modelCard) });
/** GET /v1/models/{id}: the id as asked, with variants where the gateway has a database. */
export const modelDetails = modelCard.extend({ name: z.string().optional(), status: z.string().optional(), variants: z.array(z.record(z.string(), z.unknown())).optional() });

/** vLLM's TokenizeResponse and DetokenizeResponse. */
export const tokenizeResponse = z.object({ count: z.number().int(), max_model_len: z.number().int(), tokens: z.array(z.number().int()), token_strs: z.array(z.string()).optional() });
export const detokenizeResponse = z.object({ prompt: z.string() });
/** vLLM's tokenizer_info: the tokenizer config plus its class. */
export const tokenizerInfo = z.object({ tokenizer_class: z.string(), bos_token: z.string().nullable(), eos_token: z.string().nullable(), model_max_length: z.number().int() }).passthrough();

/** Any JSON object (routes whose answer is documented in the README). */
export const anyObject = z.record(z.string(), z.unknown());
