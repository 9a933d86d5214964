/**
 * @module Request schemas of the OpenAI-compatible routes (zod), with vLLM's extensions (`top_k`).
 */
import { z } from 'zod';

/** POST /v1/completions body. */
export const completionRequest = z.object({
  model: z.string().min(1),
  prompt: z.string(),
  max_tokens: z.number().int().min(0).max(1_000_000).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(-1).nullish(),
  n: z.number().int().min(1).max(16).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  seed: z.number().int().nullish(),
  stream: z.boolean().nullish(),
  echo: z.boolean().nullish(),
  logprobs: z.number().int().min(0).max(20).nullish(),
  user: z.string().nullish(),
});
export type CompletionRequest = z.infer<typeof completionRequest>;
