import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidModelFile, InvalidRequest } from '../../errors.ts';
import { RunC } from '../../../test/reference/run-c.ts';
import { writeByteFreeTokenizer } from '../../../test/fixtures/byte-free-tokenizer.ts';
import { CALIB_TEXT, GREEDY_REFERENCE, HELDOUT_TEXT, LLAMA2_TOKENIZER as LLAMA, STORIES260K, TOK512, WIKITEXT_HEAD } from '../../../test/fixtures/paths.ts';
import { Llama2cTokenizer } from './llama2c-tokenizer.ts';

const POEM = join(mkdtempSync(join(tmpdir(), 'poem-tok-')), 'poem_tok.bin');
const POEM_SIZE = writeByteFreeTokenizer(POEM);

/** A line-by-line port of llama2.c run.c encode(): its own parse of tokenizer.bin, O(n^2) merges. */
function naiveEncoder(file: string, vocabSize: number): (text: string, bos: boolean) => number[] {
  const b = readFileSync(file);
  const vocab: string[] = [];
  const scores: number[] = [];
  let o = 4;
  for (let i = 0; i < vocabSize; i++) {
    scores.push(b.readFloatLE(o));
    const len = b.readInt32LE(o + 4);
    vocab.push(b.subarray(o + 8, o + 8 + len).toString('latin1'));
    o += 8 + len;
  }
  const index = new Map<string, number>();
  vocab.forEach((p, i) => index.has(p) || index.set(p, i));
  const strLookup = (s: string) => index.get(s) ?? -1;
  return (text, bos) => {
    const c = Buffer.from(text, 'utf8');
    const tokens: number[] = [];
    if (bos) tokens.push(1);
    if (c.length > 0) tokens.push(strLookup(' '));
    let buf = '';
    for (let i = 0; i < c.length; i++) {
      if ((c[i] & 0xc0) !== 0x80) buf = '';
      buf += String.fromCharCode(c[i]);
      if (((c[i + 1] ?? 0) & 0xc0) === 0x80 && buf.length < 4) continue;
      const id = strLookup(buf);
      if (id !== -1) tokens.push(id);
      else for (let j = 0; j < buf.length; j++) tokens.push(buf.charCodeAt(j) + 3);
      buf = '';
    }
    for (;;) {
      let bestScore = Math.fround(-1e10);
      let bestId = -1;
      let bestIdx = -1;
      for (let i = 0; i < tokens.length - 1; i++) {
        const id = strLookup(vocab[tokens[i]] + vocab[tokens[i + 1]]);
        if (id !== -1 && scores[id] > bestScore) {
          bestScore = scores[id];
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx === -1) break;
      tokens[bestIdx] = bestId;
      tokens.splice(bestIdx + 1, 1);
    }
    return tokens;
  };
}

const EDGE_CASES = [
  '', ' ', '  ', '   a', 'a   ', 'a     b', `${' '.repeat(20)}x${' '.repeat(17)}`, '\n', '\n\nA\n', 'x\r\ny',
  'Hello, world! 123 4567.89 -- (a) [b] {c} "q" \'s', '3.14159e-10 1,000,000', '你好，世界。', '😀 emoji 👩‍👩‍👧 ok',
  'tab\there', 'café naïve Ünïcödé', 'Ωμέγα Кириллица', '\u0000nul', 'x'.repeat(60), 'aaaaaaaaaaaaaaaaab',
  'The the THE tHe', "don't won't can't", 'a\u00a0b', '\ud800 lone surrogate',
];

function corpus(): string[] {
  const held = readFileSync(HELDOUT_TEXT, 'utf8').split('\n');
  const wiki = readFileSync(WIKITEXT_HEAD, 'utf8').split('\n').slice(0, 250);
  return [...held, ...wiki, ...EDGE_CASES];
}

describe('Llama2cTokenizer.encode', () => {
  const lines = corpus();
  for (const [file, size] of [[TOK512, 512], [LLAMA, 32000]] as const) {
    it(`gives run.c's ids on ${lines.length} lines with ${file.split('/').slice(-2).join('/')}`, async () => {
      const tok = await Llama2cTokenizer.load(file, size);
      const naive = naiveEncoder(file, size);
      for (const [i, line] of lines.entries()) {
        expect(tok.encode(line, { bos: i % 2 === 0 }), JSON.stringify(line)).toEqual(naive(line, i % 2 === 0));
      }
      const chunk = readFileSync(HELDOUT_TEXT, 'utf8').slice(5000, 8000);
      expect(tok.encode(chunk)).toEqual(naive(chunk, false));
    });
  }

  it('matches run.c on a vocabulary without byte pieces (Chinese poems)', async () => {
    const tok = await Llama2cTokenizer.load(POEM, POEM_SIZE);
    const naive = naiveEncoder(POEM, POEM_SIZE);
    for (const text of ['主题：明月 体裁：五绝\n', '床前明月光，疑是地上霜。', 'abc 😀']) {
      expect(tok.encode(text, { bos: true })).toEqual(naive(text, true));
    }
  });

  it('adds BOS only when asked, the dummy prefix only for non-empty text, never EOS', async () => {
    const tok = await Llama2cTokenizer.load(TOK512, 512);
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('', { bos: true })).toEqual([1]);
    const ids = tok.encode('Once upon a time', { bos: true });
    expect(ids[0]).toBe(1);
    expect(tok.encode('Once upon a time')).toEqual(ids.slice(1));
    expect(ids).not.toContain(2);
    expect(tok.encode('你')).toEqual([tok.encode(' ')[0], 0xe4 + 3, 0xbd + 3, 0xa0 + 3]);
  });

  it('encodes ~785 KB of text in a few seconds', async () => {
    const tok = await Llama2cTokenizer.load(LLAMA, 32000);
    const text = readFileSync(CALIB_TEXT, 'utf8').repeat(12); // ~785 KB
    const t0 = performance.now();
    const ids = tok.encode(text);
    expect(performance.now() - t0).toBeLessThan(8000);
    expect(tok.decode(ids)).toBe(text);
  });
});

describe('Llama2cTokenizer.decode', () => {
  it('round-trips text and skips BOS, EOS and unknown', async () => {
    for (const [file, size] of [[TOK512, 512], [LLAMA, 32000]] as const) {
      const tok = await Llama2cTokenizer.load(file, size);
      for (const text of corpus().slice(0, 60).concat(EDGE_CASES.slice(0, -1))) {
        expect(tok.decode(tok.encode(text, { bos: true }))).toBe(text);
      }
      expect(tok.decode([1, ...tok.encode('Hi there'), 2, 0])).toBe('Hi there');
      expect(() => tok.decode([size])).toThrow(InvalidRequest);
    }
  });

  it("decodes stories260K's greedy output (independent run.c port) to llama2.c's reference text", async () => {
    const tok = await Llama2cTokenizer.load(TOK512, 512);
    const model = RunC.load(STORIES260K);
    const ids = [1];
    for (let pos = 0; pos < 255; pos++) {
      const logits = model.forward(ids[pos], pos);
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      ids.push(best);
    }
    const reference = readFileSync(GREEDY_REFERENCE, 'utf8');
    const text = tok.decode(ids);
    expect(text.length).toBeGreaterThan(500);
    expect(reference.startsWith(text)).toBe(true);
  });
});

describe('Llama2cTokenizer vocabulary', () => {
  it('exposes sentencepiece pieces, scores and types', async () => {
    const tok = await Llama2cTokenizer.load(TOK512, 512);
    expect(tok.vocabSize).toBe(512);
    const v = tok.sentencePieceVocab();
    expect(v.pieces.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect(v.types.slice(0, 4)).toEqual([2, 3, 3, 6]);
    expect(v.pieces[259]).toBe('\u2581t');
    expect(v.types[259]).toBe(1);
    expect(v.scores[260]).toBe(-1);
    expect(v.types.filter((t) => t === 6).length).toBe(256);
    const again = Llama2cTokenizer.fromVocab(v);
    const text = readFileSync(HELDOUT_TEXT, 'utf8').slice(0, 3000);
    expect(again.encode(text, { bos: true })).toEqual(tok.encode(text, { bos: true }));
  });

  it('rejects truncated files and missing files with InvalidModelFile', async () => {
    const bytes = readFileSync(TOK512);
    expect(() => Llama2cTokenizer.fromBytes(bytes.subarray(0, 3000), 512)).toThrow(InvalidModelFile);
    expect(() => Llama2cTokenizer.fromBytes(bytes, 513)).toThrow(/truncated/);
    const lying = Buffer.from(bytes);
    lying.writeInt32LE(1 << 20, 8);
    expect(() => Llama2cTokenizer.fromBytes(lying, 512)).toThrow(InvalidModelFile);
    await expect(Llama2cTokenizer.load('/nonexistent/tok.bin', 512)).rejects.toBeInstanceOf(InvalidModelFile);
  });
});
