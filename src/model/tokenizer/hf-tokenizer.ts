/**
 * @module A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) behind flatgate's `Tokenizer`
 * interface, run by @huggingface/tokenizers. BOS is added only when asked, like the llama2.c tokenizer.
 */
import { readJsonFile } from '../read-json.ts';
import { join } from 'node:path';
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { InvalidModelFile, InvalidRequest } from '../../errors.ts';
import type { SentencePieceVocab, Tokenizer } from '../types.ts';

interface JsonAddedToken {
  id: number;
  content: string;
  special?: boolean;
}

interface JsonModel {
  type?: string;
  vocab?: Record<string, number> | unknown;
  merges?: (string | [string, string])[];
  unk_token?: string | null;
  byte_fallback?: boolean;
}

/** The fields of tokenizer.json read here. */
interface TokenizerJsonLike {
  added_tokens?: JsonAddedToken[];
  model?: JsonModel;
  normalizer?: unknown;
  pre_tokenizer?: unknown;
}

type TokenSpec = string | { content?: string } | null | undefined;

function specContent(spec: TokenSpec): string | null {
  if (typeof spec === 'string') return spec;
  return spec && typeof spec.content === 'string' ? spec.content : null;
}

const readJson = (file: string, optional: boolean) => readJsonFile(file, { optional });

/** A tokenizer.json tokenizer. `bosId`/`eosId` are -1 when the tokenizer has none. */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  private readonly lib: HfLibTokenizer;

  /**
   * @param json parsed tokenizer.json
   * @param config parsed tokenizer_config.json (bos_token, eos_token...), null if there was none
   * @param source where it came from, for error messages
   */
  constructor(
    private readonly json: unknown,
    private readonly config: Record<string, unknown> | null = null,
    source = 'tokenizer.json',
  ) {
    const cfg = config ?? {};
    try {
      this.lib = new HfLibTokenizer(json as object, { clean_up_tokenization_spaces: false, ...cfg, remove_space: false });
    } catch (cause) {
      throw new InvalidModelFile(source, `unusable tokenizer: ${(cause as Error).message}`, { cause });
    }
    let maxId = -1;
    for (const id of this.lib.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const idOf = (spec: TokenSpec) => {
      const content = specContent(spec);
      return content === null ? -1 : (this.lib.token_to_id(content) ?? -1);
    };
    this.bosId = idOf(cfg.bos_token as TokenSpec);
    this.eosId = idOf(cfg.eos_token as TokenSpec);
  }

  /**
   * Loads `folder/tokenizer.json` and, if present, `folder/tokenizer_config.json`.
   * @example const tok = await HfTokenizer.load('/models/tinyllama');
   */
  static async load(folder: string): Promise<HfTokenizer> {
    const file = join(folder, 'tokenizer.json');
    const json = await readJson(file, false);
    const config = (await readJson(join(folder, 'tokenizer_config.json'), true)) as Record<string, unknown> | null;
    return new HfTokenizer(json, config, file);
  }

  /** Same as {@link HfTokenizer.load}. */
  static fromFolder(folder: string): Promise<HfTokenizer> {
    return HfTokenizer.load(folder);
  }

  /** Token ids of `text`; the library's own special tokens (post-processor) are never added, BOS only if asked. */
  encode(text: string, opts: { bos?: boolean } = {}): number[] {
    const ids = this.lib.encode(text, { add_special_tokens: false }).ids;
    return opts.bos && this.bosId >= 0 ? [this.bosId, ...ids] : ids;
  }

  /** Text of `ids`, special tokens skipped, no clean-up of spaces. */
  decode(ids: readonly number[]): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new InvalidRequest(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
      }
    }
    if (ids.length === 0) return '';
    return this.lib.decode([...ids], { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }

  /** The tokenizer.json this tokenizer was built from. */
  toTokenizerJson(): unknown {
    return this.json;
  }

  /** The tokenizer_config.json this tokenizer was built with, or null if there was none. */
  tokenizerConfig(): Record<string, unknown> | null {
    return this.config;
  }

  /**
   * A sentencepiece vocabulary for a llama-style BPE (one with '▁' word boundaries): scores rank merged
   * pieces by their first merge (rank r gives -r), other normal pieces after all merges in vocabulary order;
   * special added tokens are control (unknown for unk_token), `<0xNN>` are bytes. Null for other tokenizers.
   */
  sentencePieceVocab(): SentencePieceVocab | null {
    const json = this.json as TokenizerJsonLike;
    const model = json.model;
    const spaced = JSON.stringify([json.normalizer ?? null, json.pre_tokenizer ?? null]).includes('\u2581');
    if (model?.type !== 'BPE' || !spaced || !model.vocab || typeof model.vocab !== 'object') return null;
    const n = this.vocabSize;
    const pieces = Array.from({ length: n }, (_, i) => this.lib.id_to_token(i) ?? `<unused${i}>`);
    const types: number[] = pieces.map((_, i) => (this.lib.id_to_token(i) === undefined ? 5 : 1));
    const merges = model.merges ?? [];
    const scores = pieces.map((_, i) => -(merges.length + i));
    const ids = this.lib.get_vocab(true);
    merges.forEach((m, rank) => {
      const [l, r] = typeof m === 'string' ? m.split(' ', 2) : m;
      const id = ids.get(l + r);
      if (id !== undefined && scores[id] < -rank) scores[id] = -rank;
    });
    if (model.byte_fallback) {
      pieces.forEach((p, i) => {
        if (/^<0x[0-9A-F]{2}>$/.test(p)) types[i] = 6;
      });
    }
    for (const t of json.added_tokens ?? []) {
      types[t.id] = t.content === model.unk_token ? 2 : t.special ? 3 : 4;
    }
    types.forEach((t, i) => {
      if (t !== 1 && t !== 4) scores[i] = 0;
    });
    return { pieces, scores, types };
  }
}
