/**
 * @module vLLM's tokenizer endpoints at the server root, which lm-evaluation-harness's
 * `tokenizer_backend=remote` uses: `GET /tokenizer_info`, `POST /tokenize` (a prompt, or chat messages
 * rendered with the chat template), `POST /detokenize`. Like vLLM's they may omit `model`; here that
 * works when the key sees one model family (variants share their original's tokenizer).
 */
import { Hono, type Context } from 'hono';
import { canUse } from '../access/keys.ts';
import type { AppEnv } from '../app-env.ts';
import { InvalidRequest } from '../errors.ts';
import type { LoadedModel, Tokenizer } from '../model/types.ts';
import { renderChat } from '../serving/chat-template.ts';
import { resolveTarget } from '../serving/inference.ts';
import { assertCanUse } from './auth.ts';
import { tokenTexts } from '../serving/completion.ts';
import { detokenizeRequest, tokenizeRequest } from './schemas.ts';
import { parseJson } from './validate.ts';

/** The model a tokenizer request means: `model` if given, else the caller's only model family. */
async function modelOf(c: Context<AppEnv>, name: string | null | undefined): Promise<{ id: string; loaded: LoadedModel }> {
  if (name) {
    const { served } = resolveTarget(c.var.inference, name, null);
    assertCanUse(c, name, served.info.owner);
    return { id: served.id, loaded: await served.loaded() };
  }
  const families = c.var.pool.list().filter((m) => m.info.parent === null && !m.info.pending && canUse(c.var.principal, m.info.owner));
  if (families.length !== 1) throw new InvalidRequest(`${families.length === 0 ? 'no model is' : 'several models are'} served: name one with model`, 'model');
  return { id: families[0].id, loaded: await families[0].loaded() };
}

/** A special token's text (`<s>`), from tokenizer_config.json or the vocabulary. */
function specialText(tok: Tokenizer, key: string, id: number): string | null {
  const v = tok.tokenizerConfig?.()?.[key];
  if (typeof v === 'string') return v;
  if (typeof (v as { content?: unknown })?.content === 'string') return (v as { content: string }).content;
  return tok.sentencePieceVocab()?.pieces[id] ?? null;
}

/**
 * Encodes like HF tokenizers do: the special tokens' texts (`<s>`, `</s>`) become their ids, the text
 * between them is encoded as usual (so the harness finds EOS by encoding its text).
 */
function encodeWithSpecials(tok: Tokenizer, text: string, bos: boolean): number[] {
  const specials = new Map<string, number>();
  for (const [key, id] of [['bos_token', tok.bosId], ['eos_token', tok.eosId]] as const) {
    const t = specialText(tok, key, id);
    if (t) specials.set(t, id);
  }
  const ids: number[] = bos ? [tok.bosId] : [];
  const pattern = [...specials.keys()].map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  const parts = pattern ? text.split(new RegExp(`(${pattern})`)) : [text];
  for (const part of parts) {
    if (specials.has(part)) ids.push(specials.get(part)!);
    else if (part) ids.push(...tok.encode(part));
  }
  return ids;
}

/** The tokenizer router. */
export const tokenizerRoute = new Hono<AppEnv>()
  .get('/tokenizer_info', async (c) => {
    const { loaded } = await modelOf(c, c.req.query('model'));
    const tok = loaded.tokenizer;
    const config = tok.tokenizerConfig?.() ?? {};
    return c.json({
      ...config,
      tokenizer_class: typeof config.tokenizer_class === 'string' ? config.tokenizer_class : 'LlamaTokenizerFast',
      bos_token: specialText(tok, 'bos_token', tok.bosId),
      eos_token: specialText(tok, 'eos_token', tok.eosId),
      model_max_length: loaded.model.config.maxPositions,
      vocab_size: tok.vocabSize,
    });
  })
  .post('/tokenize', async (c) => {
    const req = await parseJson(c, tokenizeRequest);
    const { loaded } = await modelOf(c, req.model);
    const tok = loaded.tokenizer;
    let ids: number[];
    if ('messages' in req) {
      const messages = req.messages.map((m) => ({ role: m.role, content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join('') }));
      // the template's BOS is dropped by renderChat and added back here, as chat completions do
      ids = encodeWithSpecials(tok, await renderChat(messages, tok.tokenizerConfig?.(), req.add_generation_prompt ?? true), true);
    } else {
      ids = encodeWithSpecials(tok, req.prompt, req.add_special_tokens ?? true);
    }
    const max_model_len = loaded.model.config.maxPositions;
    return c.json({ count: ids.length, max_model_len, tokens: ids, ...(req.return_token_strs ? { token_strs: tokenTexts(tok, ids) } : {}) });
  })
  .post('/detokenize', async (c) => {
    const req = await parseJson(c, detokenizeRequest);
    const { loaded } = await modelOf(c, req.model);
    const vocab = loaded.model.config.vocabSize;
    const bad = req.tokens.find((id) => id >= vocab);
    if (bad !== undefined) throw new InvalidRequest(`Token id ${bad} is outside the vocabulary of ${vocab}`, 'tokens');
    return c.json({ prompt: loaded.tokenizer.decode(req.tokens) });
  });
