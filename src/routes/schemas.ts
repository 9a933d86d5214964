/**
 * @module Request schemas of the OpenAI-compatible routes (zod), with vLLM's extensions (`top_k`,
 * `echo` + `logprobs` scoring).
 */
import { z } from 'zod';
import { BENCHMARK_LIMITS } from '../serving/benchmark-result.ts';

/** Sampling fields shared by completions and chat completions. */
const sampling = {
  model: z.string().min(1),
  max_tokens: z.number().int().min(0).max(1_000_000).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(-1).nullish(),
  n: z.number().int().min(1).max(16).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  seed: z.number().int().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  user: z.string().max(256).nullish(),
  // vLLM's sampling extensions and OpenAI's penalties
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  repetition_penalty: z.number().gt(0).max(10).nullish(),
  logit_bias: z
    .record(z.string().regex(/^\d{1,9}$/, 'keys must be token ids'), z.number().min(-100).max(100))
    .refine((m) => Object.keys(m).length <= 300, 'at most 300 entries')
    .nullish(),
  min_tokens: z.number().int().min(0).max(1_000_000).nullish(),
  ignore_eos: z.boolean().nullish(),
};

/** Most prompts in one completions request, and most prompt token ids over all of them. */
export const MAX_PROMPTS = 128;
export const MAX_PROMPT_IDS = 262_144;

const tokenIds = z.array(z.number().int().min(0)).min(1);

/** A prompt as OpenAI and vLLM take it: text, texts, token ids, or lists of token ids. */
const prompt = z
  .union([z.string(), z.array(z.string()).min(1).max(MAX_PROMPTS), tokenIds, z.array(tokenIds).min(1).max(MAX_PROMPTS)])
  .refine((p) => !Array.isArray(p) || !Array.isArray(p[0]) || (p as number[][]).reduce((s, ids) => s + ids.length, 0) <= MAX_PROMPT_IDS, {
    message: `at most ${MAX_PROMPT_IDS} token ids over all prompts`,
  })
  .refine((p) => !Array.isArray(p) || typeof p[0] !== 'number' || p.length <= MAX_PROMPT_IDS, { message: `at most ${MAX_PROMPT_IDS} token ids` });

/**
 * POST /v1/completions body. The prompt may be text, token ids, or a list of either (as
 * lm-evaluation-harness sends). `best_of` and `suffix` are parsed only to be refused by name.
 */
export const completionRequest = z.object({
  ...sampling,
  prompt,
  echo: z.boolean().nullish(),
  logprobs: z.number().int().min(0).max(20).nullish(),
  best_of: z.number().int().min(1).max(16).nullish(),
  suffix: z.string().max(65_536).nullish(),
});
export type CompletionRequest = z.infer<typeof completionRequest>;

const textPart = z.object({ type: z.literal('text'), text: z.string() });

/** POST /v1/chat/completions body. */
export const chatRequest = z.object({
  ...sampling,
  messages: z
    .array(
      z.object({
        role: z.enum(['system', 'user', 'assistant', 'developer', 'tool']),
        content: z.union([z.string(), z.array(textPart)]).nullish(),
        name: z.string().nullish(),
      }),
    )
    .min(1),
  max_completion_tokens: z.number().int().min(0).max(1_000_000).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  /** Parsed only to be refused unless plain text / absent. */
  response_format: z.object({ type: z.string().max(64) }).passthrough().nullish(),
  tools: z.array(z.unknown()).max(128).nullish(),
  tool_choice: z.unknown().optional(),
});
export type ChatRequest = z.infer<typeof chatRequest>;

/**
 * PUT /v1/models/:id/route body: an A/B split (an arm naming a collapsed variant needs `force: true`)
 * and an optional shadow share, or `auto_promote: true` to route by the variants' verdicts.
 */
export const routeRequest = z
  .object({
    arms: z.array(z.object({ variant: z.string().min(1), weight: z.number().min(0), force: z.boolean().optional() })).min(1).max(8).optional(),
    shadow_rate: z.number().min(0).max(1).nullish(),
    auto_promote: z.boolean().optional(),
  })
  .refine((b) => (b.auto_promote === true) !== (b.arms !== undefined), { message: 'give either arms or "auto_promote": true', path: ['arms'] });

/** PUT /v1/models/:id/criteria body: the verdict's criteria (fields left out: the defaults). */
export const criteriaRequest = z
  .object({
    max_ppl_ratio: z.number().min(1).max(100).optional(),
    min_agreement: z.number().min(0).max(1).optional(),
    max_task_drop: z.number().min(0).max(1).nullable().optional(),
  })
  .strict();

/** POST /v1/models/:id/benchmark body. */
export const benchmarkRequest = z.object({
  requests: z.number().int().min(1).max(BENCHMARK_LIMITS.requests).nullish(),
  concurrency: z.number().int().min(1).max(BENCHMARK_LIMITS.concurrency).nullish(),
  max_tokens: z.number().int().min(1).max(BENCHMARK_LIMITS.maxTokens).nullish(),
  prompts: z.array(z.string().max(BENCHMARK_LIMITS.promptChars)).min(1).max(BENCHMARK_LIMITS.prompts).nullish(),
});

/* vLLM's tokenizer endpoints (POST /tokenize, POST /detokenize). */
const MAX_TOKENIZE_TEXT = 4_000_000;
const optionalModel = z.string().min(1).max(256).nullish();
const message = z.object({ role: z.string().max(64), content: z.union([z.string(), z.array(z.object({ type: z.literal('text'), text: z.string() }))]).nullish() });

/** vLLM's TokenizeCompletionRequest. */
export const tokenizeCompletionRequest = z.object({ model: optionalModel, prompt: z.string().max(MAX_TOKENIZE_TEXT), add_special_tokens: z.boolean().nullish(), return_token_strs: z.boolean().nullish() });
/** vLLM's TokenizeChatRequest. */
export const tokenizeChatRequest = z.object({
  model: optionalModel,
  messages: z.array(message).min(1).max(1024),
  add_generation_prompt: z.boolean().nullish(),
  add_special_tokens: z.boolean().nullish(),
  return_token_strs: z.boolean().nullish(),
});
/** POST /tokenize: either form. */
export const tokenizeRequest = z.union([tokenizeCompletionRequest, tokenizeChatRequest]);
/** vLLM's DetokenizeRequest. */
export const detokenizeRequest = z.object({ model: optionalModel, tokens: z.array(z.number().int().min(0)).max(1_000_000) });

