/**
 * @module Request schemas of the OpenAI-compatible routes (zod), with vLLM's extensions (`top_k`,
 * `echo` + `logprobs` scoring).
 */
import { z } from 'zod';

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
};

/** POST /v1/completions body. The prompt may be text or token ids (as lm-evaluation-harness sends). */
export const completionRequest = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.number().int().min(0)).min(1)]),
  echo: z.boolean().nullish(),
  logprobs: z.number().int().min(0).max(20).nullish(),
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
  requests: z.number().int().min(1).max(64).nullish(),
  concurrency: z.number().int().min(1).max(16).nullish(),
  max_tokens: z.number().int().min(1).max(512).nullish(),
  prompts: z.array(z.string()).min(1).max(16).nullish(),
});
