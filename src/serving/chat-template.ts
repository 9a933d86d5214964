/**
 * @module Chat prompts: the tokenizer's own Jinja chat template (tokenizer_config.json `chat_template`)
 * rendered with @huggingface/jinja, or a plain default for models that have none.
 */
import { Template } from '@huggingface/jinja';
import { InvalidRequest } from '../errors.ts';

/** A chat message with text content. */
export interface ChatMessage {
  role: string;
  content: string;
}

/** The template used when the tokenizer has none: one `role: content` line per message. */
export const DEFAULT_CHAT_TEMPLATE =
  "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

/**
 * Renders `messages` into the prompt text. A leading BOS string is dropped: the encoder adds BOS itself.
 * @example renderChat([{ role: 'user', content: 'Hi' }], tokenizerConfig) // "user: Hi\nassistant:"
 */
export function renderChat(messages: ChatMessage[], tokenizerConfig: Record<string, unknown> | null | undefined, addGenerationPrompt = true): string {
  const source = typeof tokenizerConfig?.chat_template === 'string' ? tokenizerConfig.chat_template : DEFAULT_CHAT_TEMPLATE;
  const token = (v: unknown) => (typeof v === 'string' ? v : typeof (v as { content?: unknown })?.content === 'string' ? (v as { content: string }).content : '');
  const bos = token(tokenizerConfig?.bos_token);
  let text: string;
  try {
    text = new Template(source).render({ messages, add_generation_prompt: addGenerationPrompt, bos_token: bos, eos_token: token(tokenizerConfig?.eos_token) });
  } catch (err) {
    throw new InvalidRequest(`The chat template could not render these messages: ${(err as Error).message}`, 'messages');
  }
  return bos && text.startsWith(bos) ? text.slice(bos.length) : text;
}
