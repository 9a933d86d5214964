/**
 * @module The llama2.c tokenizer (tokenizer.bin): sentencepiece-style BPE over scored pieces, encoding
 * exactly as run.c's encode() (dummy-prefix space, codepoint lookup with byte fallback, then repeatedly
 * merging the adjacent pair whose concatenation is the best-scored piece, leftmost on ties), in O(n log n).
 */
import { readFile } from 'node:fs/promises';
import { InvalidModelFile, InvalidRequest } from '../../errors.ts';
import type { SentencePieceVocab, Tokenizer } from '../types.ts';
import { tokenizerJsonFromVocab } from './tokenizer-json.ts';

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;
/** run.c starts its search at best_score = -1e10 (a float) and merges only strictly better pieces. */
const MERGE_FLOOR = Math.fround(-1e10);
const utf8 = new TextEncoder();

/** Bytes as a "binary" string (one char per byte), so concatenation and lookup are byte-exact. */
function bytesToBinary(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

function binaryToText(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

/** A llama2.c tokenizer; ids 1 and 2 are BOS and EOS, as run.c assumes. */
export class Llama2cTokenizer implements Tokenizer {
  readonly bosId = 1;
  readonly eosId = 2;
  private readonly lookup = new Map<string, number>();
  private readonly byteOf: Int16Array;

  /**
   * @param pieces token bytes as binary strings, in llama2.c form (' ' for spaces)
   * @param scores merge scores
   * @param types sentencepiece token types (1 normal, 2 unknown, 3 control, 6 byte)
   */
  private constructor(
    private readonly pieces: string[],
    private readonly scores: Float32Array,
    private readonly types: Uint8Array,
  ) {
    this.byteOf = new Int16Array(pieces.length).fill(-1);
    pieces.forEach((p, id) => {
      if (!this.lookup.has(p)) this.lookup.set(p, id);
      const m = BYTE_PIECE.exec(p);
      if (m) this.byteOf[id] = parseInt(m[1], 16);
    });
  }

  /**
   * Reads a llama2.c tokenizer.bin: int32 max_token_length, then `vocabSize` records of
   * (float32 score, int32 length, bytes). The vocabulary size is the model's (the file does not store it).
   * @example const tok = await Llama2cTokenizer.load('fixtures/models/stories260K/tok512.bin', 512);
   */
  static async load(file: string, vocabSize: number): Promise<Llama2cTokenizer> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (cause) {
      throw new InvalidModelFile(file, `cannot read tokenizer: ${(cause as Error).message}`, { cause });
    }
    return Llama2cTokenizer.fromBytes(bytes, vocabSize, file);
  }

  /** Parses tokenizer.bin bytes (see {@link Llama2cTokenizer.load}); `file` names the source in errors. */
  static fromBytes(bytes: Uint8Array, vocabSize: number, file = 'tokenizer.bin'): Llama2cTokenizer {
    if (!Number.isInteger(vocabSize) || vocabSize < 3) {
      throw new InvalidModelFile(file, `vocabulary size ${vocabSize} is too small for a llama2.c tokenizer`);
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const pieces: string[] = [];
    const scores = new Float32Array(vocabSize);
    let pos = 4;
    for (let id = 0; id < vocabSize; id++) {
      if (pos + 8 > bytes.length) {
        throw new InvalidModelFile(file, `tokenizer truncated: ${id} of ${vocabSize} tokens, ${bytes.length} bytes`);
      }
      scores[id] = dv.getFloat32(pos, true);
      const len = dv.getInt32(pos + 4, true);
      pos += 8;
      if (len < 0 || pos + len > bytes.length) {
        throw new InvalidModelFile(file, `token ${id} has length ${len} past the end of the file`);
      }
      pieces.push(bytesToBinary(bytes.subarray(pos, pos + len)));
      pos += len;
    }
    const types = new Uint8Array(vocabSize).fill(1);
    pieces.forEach((p, id) => {
      if (id === 0) types[id] = 2;
      else if (id <= 2) types[id] = 3;
      else if (BYTE_PIECE.test(p)) types[id] = 6;
    });
    return new Llama2cTokenizer(pieces, scores, types);
  }

  /** A tokenizer over a sentencepiece vocabulary ('▁' for spaces), e.g. one derived from tokenizer.json. */
  static fromVocab(vocab: SentencePieceVocab): Llama2cTokenizer {
    const pieces = vocab.pieces.map((p) => bytesToBinary(utf8.encode(p.replaceAll('\u2581', ' '))));
    return new Llama2cTokenizer(pieces, Float32Array.from(vocab.scores), Uint8Array.from(vocab.types));
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  /**
   * Token ids of `text` as run.c's encode(): BOS if asked, the dummy-prefix ' ' piece (if the text is not
   * empty), each UTF-8 codepoint's piece or its bytes as `<0xNN>` = byte + 3, then best-score merges.
   * @example tok.encode('Once upon', { bos: true }) // [1, ...]
   */
  encode(text: string, opts: { bos?: boolean } = {}): number[] {
    const bytes = utf8.encode(text);
    const ids: number[] = [];
    if (opts.bos) ids.push(this.bosId);
    if (bytes.length > 0) {
      const dummy = this.lookup.get(' ');
      if (dummy !== undefined) ids.push(dummy);
    }
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if ((bytes[i] & 0xc0) !== 0x80) start = i;
      const next = i + 1 < bytes.length ? bytes[i + 1] : 0;
      if ((next & 0xc0) === 0x80 && i + 1 - start < 4) continue;
      const id = this.lookup.get(bytesToBinary(bytes.subarray(start, i + 1)));
      if (id !== undefined) ids.push(id);
      else for (let j = start; j <= i; j++) ids.push(bytes[j] + 3);
      start = i + 1;
    }
    return this.merge(ids);
  }

  /** run.c's merge loop with a linked list and a max-heap keyed by (score, leftmost position). */
  private merge(initial: number[]): number[] {
    const n = initial.length;
    const tok = Int32Array.from(initial);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const ver = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new PairHeap(3 * n + 4);
    const push = (left: number) => {
      const right = next[left];
      if (left < 0 || right < 0) return;
      const id = this.lookup.get(this.pieces[tok[left]] + this.pieces[tok[right]]);
      if (id === undefined || !(this.scores[id] > MERGE_FLOOR)) return;
      heap.push(this.scores[id], left, ver[left], ver[right], id);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.size > 0) {
      const e = heap.pop();
      const left = heap.left[e];
      const right = next[left];
      if (right < 0 || ver[left] !== heap.verL[e] || ver[right] !== heap.verR[e]) continue;
      tok[left] = heap.id[e];
      ver[left]++;
      ver[right] = -1;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      push(prev[left]);
      push(left);
    }
    const out: number[] = [];
    for (let i = n > 0 ? 0 : -1; i >= 0; i = next[i]) out.push(tok[i]);
    return out;
  }

  /** Text of `ids`: BOS/EOS/unknown skipped, `<0xNN>` as bytes, one leading space removed, UTF-8 decoded. */
  decode(ids: readonly number[]): string {
    const parts: Uint8Array[] = [];
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.pieces.length) {
        throw new InvalidRequest(`token id ${id} is outside the vocabulary (0..${this.pieces.length - 1})`);
      }
      if (this.types[id] === 2 || this.types[id] === 3) continue;
      const b = this.byteOf[id];
      parts.push(b >= 0 ? Uint8Array.of(b) : Buffer.from(this.pieces[id], 'latin1'));
    }
    const all = Buffer.concat(parts);
    return all.subarray(all[0] === 0x20 ? 1 : 0).toString('utf8');
  }

  /** The vocabulary with '▁' for spaces, `<s>`/`</s>` for the control pieces, and llama2.c's scores. */
  sentencePieceVocab(): SentencePieceVocab {
    const pieces = this.pieces.map((p, id) => {
      const text = binaryToText(p);
      return this.types[id] === 3 ? text.trim() : text.replaceAll(' ', '\u2581');
    });
    return { pieces, scores: Array.from(this.scores), types: Array.from(this.types) };
  }

  /** The equivalent HF tokenizer.json (LlamaConverter style; see tokenizer-json.ts). */
  toTokenizerJson(): unknown {
    return tokenizerJsonFromVocab(this.sentencePieceVocab());
  }
}

/** A binary max-heap of merge candidates in parallel typed arrays; ties go to the leftmost pair. */
class PairHeap {
  readonly score: Float64Array;
  readonly left: Int32Array;
  readonly verL: Int32Array;
  readonly verR: Int32Array;
  readonly id: Int32Array;
  private readonly order: Int32Array;
  private count = 0;
  private used = 0;

  constructor(capacity: number) {
    this.score = new Float64Array(capacity);
    this.left = new Int32Array(capacity);
    this.verL = new Int32Array(capacity);
    this.verR = new Int32Array(capacity);
    this.id = new Int32Array(capacity);
    this.order = new Int32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  private before(a: number, b: number): boolean {
    return this.score[a] > this.score[b] || (this.score[a] === this.score[b] && this.left[a] < this.left[b]);
  }

  push(score: number, left: number, verL: number, verR: number, id: number): void {
    const e = this.used++;
    this.score[e] = score;
    this.left[e] = left;
    this.verL[e] = verL;
    this.verR[e] = verR;
    this.id[e] = id;
    const h = this.order;
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(e, h[parent])) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = e;
  }

  /** Removes the best entry and returns its index into the entry arrays. */
  pop(): number {
    const h = this.order;
    const top = h[0];
    const last = h[--this.count];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= this.count) break;
      if (c + 1 < this.count && this.before(h[c + 1], h[c])) c++;
      if (!this.before(h[c], last)) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
    return top;
  }
}
