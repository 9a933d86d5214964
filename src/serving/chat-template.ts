/**
 * @module Chat prompts: the tokenizer's own Jinja chat template (tokenizer_config.json `chat_template`)
 * rendered with @huggingface/jinja, or a plain default for models that have none. An uploaded template is
 * untrusted code: it renders in a worker thread, bounded in time, memory and output size.
 */
import { Template } from '@huggingface/jinja';
import { FlatgateError, InvalidModelFile } from '../errors.ts';
import { DEFAULT_TEMPLATE_LIMITS, TemplateFailure, TemplateRenderer, type TemplateLimits } from './template-worker.ts';

/** A chat message with text content. */
export interface ChatMessage {
  role: string;
  content: string;
}

/** The template used when the tokenizer has none: one `role: content` line per message. */
export const DEFAULT_CHAT_TEMPLATE =
  "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

const defaultTemplate = new Template(DEFAULT_CHAT_TEMPLATE);
let renderer: TemplateRenderer | null = null;

/** A chat template that fails or breaks its bounds for these messages (HTTP 400). */
export class ChatTemplateError extends FlatgateError {
  constructor(readonly problem: string) {
    super(`The model's chat template could not render these messages: ${problem}`, 'invalid_chat_template', 'invalid_request_error', 'messages');
  }
}

const token = (v: unknown) => (typeof v === 'string' ? v : typeof (v as { content?: unknown })?.content === 'string' ? (v as { content: string }).content : '');

/**
 * Renders `messages` into the prompt text. A leading BOS string is dropped: the encoder adds BOS itself.
 * @example await renderChat([{ role: 'user', content: 'Hi' }], tokenizerConfig) // "user: Hi\nassistant:"
 */
export async function renderChat(
  messages: ChatMessage[],
  tokenizerConfig: Record<string, unknown> | null | undefined,
  addGenerationPrompt = true,
  limits: TemplateLimits = DEFAULT_TEMPLATE_LIMITS,
): Promise<string> {
  const bos = token(tokenizerConfig?.bos_token);
  const context = { messages, add_generation_prompt: addGenerationPrompt, bos_token: bos, eos_token: token(tokenizerConfig?.eos_token) };
  let text: string;
  if (typeof tokenizerConfig?.chat_template !== 'string') {
    text = defaultTemplate.render(context);
  } else {
    try {
      text = await (renderer ??= new TemplateRenderer()).render(tokenizerConfig.chat_template, context, limits);
    } catch (err) {
      if (err instanceof TemplateFailure) throw new ChatTemplateError(err.message);
      throw err;
    }
  }
  return bos && text.startsWith(bos) ? text.slice(bos.length) : text;
}

/** Messages an upload's template must render: what a plain chat client sends. */
const SAMPLE: ChatMessage[][] = [
  [{ role: 'user', content: 'Hello' }],
  [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hello' },
    { role: 'assistant', content: 'Hi.' },
    { role: 'user', content: 'Tell a story.' },
  ],
];

/**
 * Checks at upload that the tokenizer's chat template (if any) parses and renders a plain conversation
 * within the bounds; a template that needs a system role or refuses one may raise for one of the samples.
 * @example await checkChatTemplate(JSON.parse(tokenizerConfigText));
 */
export async function checkChatTemplate(tokenizerConfig: Record<string, unknown> | null | undefined): Promise<void> {
  const source = tokenizerConfig?.chat_template;
  if (source === undefined || source === null) return;
  if (typeof source !== 'string') throw new InvalidModelFile('tokenizer_config.json', 'chat_template must be a string (named template lists are not supported)');
  const problems: string[] = [];
  for (const messages of SAMPLE) {
    try {
      await renderChat(messages, tokenizerConfig);
      return;
    } catch (err) {
      if (!(err instanceof ChatTemplateError)) throw err;
      problems.push(err.problem);
      if (/took longer|memory|longer than \d+ characters/.test(err.problem)) break;
    }
  }
  throw new InvalidModelFile('tokenizer_config.json', `chat_template cannot render a plain conversation: ${problems.join('; ')}`);
}
