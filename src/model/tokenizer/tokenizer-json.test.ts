import { describe, expect, it } from 'vitest';
import type { SentencePieceVocab } from '../types.ts';
import { Llama2cTokenizer } from './llama2c-tokenizer.ts';
import { sentencePieceMerges, tokenizerConfigJson, tokenizerJsonFromVocab } from './tokenizer-json.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeByteFreeTokenizer } from '../../../test/fixtures/byte-free-tokenizer.ts';
import { LLAMA2_TOKENIZER, TOK512 } from '../../../test/fixtures/paths.ts';


const small: SentencePieceVocab = {
  pieces: ['<unk>', '<s>', '</s>', 'a', 'b', 'ab', 'c', 'abc', 'bc', '\u2581', '\u2581a', 'ca', 'cc'],
  scores: [0, 0, 0, -10, -11, -1, -12, -3, -2, -13, -2, -1e10, -5],
  types: [2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
};

describe('sentencePieceMerges', () => {
  it('lists every two-piece split, by merged score then (left id, right id)', () => {
    expect(sentencePieceMerges(small)).toEqual([
      ['a', 'b'],
      ['b', 'c'],
      ['\u2581', 'a'],
      ['a', 'bc'],
      ['ab', 'c'],
      ['c', 'c'],
    ]);
  });

  it("gives the 61249 merges of Llama-2's published tokenizer.json, starting as it does", async () => {
    const tok = await Llama2cTokenizer.load(LLAMA2_TOKENIZER, 32000);
    const merges = sentencePieceMerges(tok.sentencePieceVocab());
    expect(merges.length).toBe(61249);
    expect(merges.slice(0, 6)).toEqual([['\u2581', 't'], ['e', 'r'], ['i', 'n'], ['\u2581', 'a'], ['e', 'n'], ['o', 'n']]);
    expect(merges[merges.length - 1].join('')).toMatch(/^\u2581+$/);
  });
});

describe('tokenizerJsonFromVocab', () => {
  it('builds a legacy Llama BPE tokenizer.json', async () => {
    const tok = await Llama2cTokenizer.load(TOK512, 512);
    const json = tokenizerJsonFromVocab(tok.sentencePieceVocab());
    expect(json.model.type).toBe('BPE');
    expect(json.model.byte_fallback).toBe(true);
    expect(json.model.fuse_unk).toBe(true);
    expect(json.model.unk_token).toBe('<unk>');
    expect(Object.keys(json.model.vocab).length).toBe(512);
    expect(json.model.vocab['\u2581t']).toBe(259);
    expect(json.model.vocab['<0x0A>']).toBe(13);
    expect(json.added_tokens.map((t) => [t.id, t.content, t.special])).toEqual([
      [0, '<unk>', true],
      [1, '<s>', true],
      [2, '</s>', true],
    ]);
    expect(json.normalizer).toEqual({
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '\u2581' },
        { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
      ],
    });
    expect(json.pre_tokenizer).toBeNull();
    expect(JSON.stringify(json.post_processor)).toContain('"ids":[1]');
    expect(JSON.stringify(json.decoder)).toContain('ByteFallback');
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('turns byte fallback off when the vocabulary has no byte pieces', async () => {
    const poem = join(mkdtempSync(join(tmpdir(), 'poem-tok-')), 'poem_tok.bin');
    const tok = await Llama2cTokenizer.load(poem, writeByteFreeTokenizer(poem));
    expect(tokenizerJsonFromVocab(tok.sentencePieceVocab()).model.byte_fallback).toBe(false);
    expect(tokenizerJsonFromVocab(small).model.byte_fallback).toBe(false);
    expect(tokenizerJsonFromVocab(small, { bosId: 3 }).post_processor).toBeNull();
  });
});

describe('tokenizerConfigJson', () => {
  it('describes a LlamaTokenizerFast that adds BOS', () => {
    expect(tokenizerConfigJson({ modelMaxLength: 256 })).toMatchObject({
      add_bos_token: true,
      add_eos_token: false,
      bos_token: '<s>',
      eos_token: '</s>',
      unk_token: '<unk>',
      legacy: true,
      model_max_length: 256,
      tokenizer_class: 'LlamaTokenizerFast',
      clean_up_tokenization_spaces: false,
    });
  });
});
