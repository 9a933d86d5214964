import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidModelFile } from '../../errors.ts';
import { HfTokenizer } from './hf-tokenizer.ts';
import { Llama2cTokenizer } from './llama2c-tokenizer.ts';
import { tokenizerConfigJson } from './tokenizer-json.ts';
import { HELDOUT_TEXT, LLAMA2_TOKENIZER, TOK512, WIKITEXT_HEAD } from '../../../test/fixtures/paths.ts';


const EDGE_CASES = [
  '', ' ', '  ', '   a', 'a   ', 'a     b', `${' '.repeat(20)}x${' '.repeat(17)}`, '\n', '\n\nA\n', 'x\r\ny',
  'Hello, world! 123 4567.89 -- (a) [b] {c} "q" \'s', '3.14159e-10 1,000,000', '你好，世界。', '😀 emoji 👩‍👩‍👧 ok',
  'tab\there', 'café naïve Ünïcödé', 'Ωμέγα Кириллица', '\u0000nul', 'x'.repeat(60), 'aaaaaaaaaaaaaaaaab',
  'The the THE tHe', "don't won't can't", 'a\u00a0b', '<s', 's>', '<0x41>',
];

const heldout = readFileSync(HELDOUT_TEXT, 'utf8');
const lines = [
  ...heldout.split('\n'),
  ...readFileSync(WIKITEXT_HEAD, 'utf8').split('\n').slice(0, 200),
  ...EDGE_CASES,
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hf-tokenizer-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cases = [
  ['stories260K/tok512.bin', TOK512, 512],
  ['llama2-tokenizer/tokenizer.bin', LLAMA2_TOKENIZER, 32000],
] as const;

describe.each(cases)('tokenizer.json converted from %s', (name, file, size) => {
  let ref: Llama2cTokenizer;
  let hf: HfTokenizer;
  beforeAll(async () => {
    ref = await Llama2cTokenizer.load(file, size);
    const folder = join(dir, name.replace('/', '-'));
    await rm(folder, { recursive: true, force: true });
    await mkdir(folder);
    await writeFile(join(folder, 'tokenizer.json'), JSON.stringify(ref.toTokenizerJson()));
    await writeFile(join(folder, 'tokenizer_config.json'), JSON.stringify(tokenizerConfigJson({ modelMaxLength: 512 })));
    hf = await HfTokenizer.load(folder);
  });

  it(`gives the llama2.c ids on ${lines.length} lines and the whole held-out text`, () => {
    expect([hf.vocabSize, hf.bosId, hf.eosId]).toEqual([size, 1, 2]);
    for (const [i, line] of lines.entries()) {
      const bos = i % 3 === 0;
      expect(hf.encode(line, { bos }), JSON.stringify(line)).toEqual(ref.encode(line, { bos }));
    }
    expect(hf.encode(heldout)).toEqual(ref.encode(heldout));
  });

  it('round-trips text through decode', () => {
    for (const line of lines) {
      const ids = hf.encode(line, { bos: true });
      expect(hf.decode(ids), JSON.stringify(line)).toBe(line);
      expect(ref.decode(ids)).toBe(line);
    }
    expect(hf.decode([])).toBe('');
    expect(hf.decode([1, ...hf.encode(' two  spaces'), 2])).toBe(' two  spaces');
  });

  it('adds BOS only when asked and never EOS', () => {
    expect(hf.encode('Once upon a time')[0]).not.toBe(1);
    expect(hf.encode('Once upon a time', { bos: true })).toEqual([1, ...hf.encode('Once upon a time')]);
    expect(hf.encode('', { bos: true })).toEqual([1]);
    expect(hf.encode('The end.')).not.toContain(2);
  });

  it('derives a sentencepiece vocabulary that encodes the same ids the llama2.c way', () => {
    const vocab = hf.sentencePieceVocab();
    expect(vocab).not.toBeNull();
    const expected = ref.sentencePieceVocab();
    expect(vocab!.pieces).toEqual(expected.pieces);
    expect(vocab!.types).toEqual(expected.types);
    const again = Llama2cTokenizer.fromVocab(vocab!);
    for (const line of lines.slice(0, 150)) expect(again.encode(line)).toEqual(ref.encode(line));
  });

  it('differs from llama2.c only where HF treats text as special: literal <s> and the ▁ character', () => {
    expect(hf.encode('<s>')).toEqual([1]);
    expect(ref.encode('<s>')).not.toContain(1);
    expect(hf.encode('\u2581')).not.toEqual(ref.encode('\u2581'));
  });
});

describe('HfTokenizer', () => {
  it('has no sentencepiece vocabulary for a byte-level BPE', () => {
    const json = {
      version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null, decoder: { type: 'ByteLevel' },
      model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: [['a', 'b']], unk_token: null },
    };
    const tok = new HfTokenizer(json);
    expect(tok.tokenizerConfig()).toBeNull();
    expect(tok.sentencePieceVocab()).toBeNull();
    expect(tok.encode('ab')).toEqual([2]);
    expect(tok.encode('ab', { bos: true })).toEqual([2]);
    expect(tok.bosId).toBe(-1);
  });

  it('throws InvalidModelFile for a missing folder, bad JSON or an unusable tokenizer', async () => {
    await expect(HfTokenizer.fromFolder(join(dir, 'nope'))).rejects.toBeInstanceOf(InvalidModelFile);
    const bad = join(dir, 'bad');
    await mkdir(bad);
    await writeFile(join(bad, 'tokenizer.json'), '{not json');
    await expect(HfTokenizer.fromFolder(bad)).rejects.toBeInstanceOf(InvalidModelFile);
    expect(() => new HfTokenizer({ model: { type: 'Nope' } })).toThrow(InvalidModelFile);
  });
});
