/**
 * @module Hugging Face tokenizer.json / tokenizer_config.json equivalent to a sentencepiece vocabulary,
 * as transformers' LlamaConverter builds them (legacy Llama: BPE with byte fallback, merges derived from
 * the piece scores, normalizer Prepend('▁') + Replace(' ', '▁'), no pre-tokenizer).
 */
import type { SentencePieceVocab } from '../types.ts';

/** run.c never merges into pieces scored at or below -1e10 (its initial best score). */
const MERGE_FLOOR = Math.fround(-1e10);
const NORMAL = new Set([1, 4]);

/** One entry of tokenizer.json's `added_tokens`. */
export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** The parts of tokenizer.json this module writes (the rest of the format is left to the library). */
export interface TokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: unknown;
  pre_tokenizer: unknown;
  post_processor: unknown;
  decoder: unknown;
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: string | null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: [string, string][];
  };
}

/**
 * BPE merges equivalent to sentencepiece's score-driven merging (transformers' SentencePieceExtractor):
 * for every normal piece, each split into two normal pieces, ordered by the merged piece's score (higher
 * first, vocabulary order on ties) and within one piece by (left id, right id).
 */
export function sentencePieceMerges(vocab: SentencePieceVocab): [string, string][] {
  const ids = new Map<string, number>();
  vocab.pieces.forEach((p, id) => {
    if (NORMAL.has(vocab.types[id]) && !ids.has(p)) ids.set(p, id);
  });
  const merges: { l: string; r: string; score: number }[] = [];
  vocab.pieces.forEach((piece, id) => {
    const score = Math.fround(vocab.scores[id]);
    if (!NORMAL.has(vocab.types[id]) || !(score > MERGE_FLOOR)) return;
    const chars = Array.from(piece);
    const local: { l: string; r: string; li: number; ri: number }[] = [];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join('');
      const r = chars.slice(k).join('');
      const li = ids.get(l);
      const ri = ids.get(r);
      if (li !== undefined && ri !== undefined) local.push({ l, r, li, ri });
    }
    local.sort((a, b) => a.li - b.li || a.ri - b.ri);
    for (const m of local) merges.push({ l: m.l, r: m.r, score });
  });
  merges.sort((a, b) => b.score - a.score);
  return merges.map((m) => [m.l, m.r]);
}

/** True when all 256 `<0xNN>` byte pieces are in the vocabulary. */
function hasAllBytePieces(pieces: readonly string[]): boolean {
  const set = new Set(pieces);
  for (let b = 0; b < 256; b++) {
    if (!set.has(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)) return false;
  }
  return true;
}

/**
 * The tokenizer.json equivalent to `vocab`: unknown and control pieces become special added tokens, the
 * post-processor prepends the BOS piece (id `bosId`), and byte fallback is on when all 256 byte pieces exist.
 * @example const json = tokenizerJsonFromVocab(llama2cTokenizer.sentencePieceVocab());
 */
export function tokenizerJsonFromVocab(vocab: SentencePieceVocab, opts: { bosId?: number } = {}): TokenizerJson {
  const bosId = opts.bosId ?? 1;
  const vocabObj: Record<string, number> = {};
  vocab.pieces.forEach((p, id) => {
    if (!Object.hasOwn(vocabObj, p)) vocabObj[p] = id;
  });
  const added_tokens: AddedTokenJson[] = [];
  vocab.pieces.forEach((content, id) => {
    if (vocab.types[id] !== 2 && vocab.types[id] !== 3) return;
    added_tokens.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  });
  const unk = vocab.pieces.find((_, id) => vocab.types[id] === 2) ?? null;
  const bos = vocab.types[bosId] === 3 ? vocab.pieces[bosId] : null;
  const post_processor = bos === null ? null : {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [
      { SpecialToken: { id: bos, type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: bos, type_id: 1 } },
      { Sequence: { id: 'B', type_id: 1 } },
    ],
    special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
  };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '\u2581' },
        { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
      ],
    },
    pre_tokenizer: null,
    post_processor,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: hasAllBytePieces(vocab.pieces),
      ignore_merges: false,
      vocab: vocabObj,
      merges: sentencePieceMerges(vocab),
    },
  };
}

/** Options of {@link tokenizerConfigJson}. */
export interface TokenizerConfigOptions {
  /** The model's context length. */
  modelMaxLength: number;
  bosToken?: string;
  eosToken?: string;
  unkToken?: string;
}

/**
 * tokenizer_config.json for a Llama tokenizer built by {@link tokenizerJsonFromVocab}.
 * @example tokenizerConfigJson({ modelMaxLength: 512 })
 */
export function tokenizerConfigJson(opts: TokenizerConfigOptions): Record<string, unknown> {
  return {
    add_bos_token: true,
    add_eos_token: false,
    bos_token: opts.bosToken ?? '<s>',
    eos_token: opts.eosToken ?? '</s>',
    unk_token: opts.unkToken ?? '<unk>',
    pad_token: null,
    clean_up_tokenization_spaces: false,
    legacy: true,
    model_max_length: opts.modelMaxLength,
    sp_model_kwargs: {},
    tokenizer_class: 'LlamaTokenizerFast',
  };
}
