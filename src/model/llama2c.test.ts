import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidModelFile } from '../errors.ts';
import { relErr } from '../../test/reference/compare.ts';
import { forward64 } from '../../test/reference/forward64.ts';
import { RunC } from '../../test/reference/run-c.ts';
import { llama2cFileSize, parseLlama2cHeader, permuteForHalfRope, permuteForInterleavedRope, readLlama2c } from './llama2c.ts';
import { countParams, type Matrix } from './types.ts';
import { STORIES12L, STORIES260K } from '../../test/fixtures/paths.ts';

const STORIES = STORIES260K;
const IDS = [1, 403, 407, 261, 378, 66, 123, 11, 11, 300, 294, 43, 64, 385, 402, 330, 511, 2, 7, 259];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llama2c-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function header(fields: number[]): Buffer {
  const b = Buffer.alloc(28);
  fields.forEach((v, i) => b.writeInt32LE(v, i * 4));
  return b;
}

describe('readLlama2c', () => {
  it('reads the stories260K config', async () => {
    const m = await readLlama2c(STORIES);
    expect(m.config).toMatchObject({
      architecture: 'LlamaForCausalLM', hiddenSize: 64, intermediateSize: 172, numLayers: 5, numHeads: 8,
      numKvHeads: 4, headDim: 8, vocabSize: 512, maxPositions: 512, rmsNormEps: 1e-5, ropeTheta: 10000,
      tieWordEmbeddings: true, bosTokenId: 1, eosTokenId: 2, dtype: 'F32', qkvBias: false, slidingWindow: null,
    });
    expect(m.lmHead).toBeNull();
    expect(m.layers[0].k.rows).toBe(32);
    const h = parseLlama2cHeader(await readFile(STORIES), STORIES);
    expect(4 * countParams(m) + 28 + 4 * h.seqLen * 8).toBe(llama2cFileSize(h));
  });

  it('gives the logits of run.c (interleaved RoPE) with HF rotate-halves in float64', async () => {
    const model = await readLlama2c(STORIES);
    const ref = RunC.load(STORIES);
    const { logits } = forward64(model, IDS);
    const wrong = forward64(model, IDS, { ropeInterleaved: true }).logits;
    for (let t = 0; t < IDS.length; t++) {
      const c = ref.forward(IDS[t], t);
      expect(relErr(c, logits[t])).toBeLessThan(1e-5);
      if (t > 0) expect(relErr(c, wrong[t])).toBeGreaterThan(1e-2);
    }
  });

  it('reads an untied classifier (negative vocab_size) and the 12-layer fixture', async () => {
    const src = await readFile(STORIES);
    const h = parseLlama2cHeader(src, STORIES);
    const cls = new Float32Array(h.vocabSize * h.dim).map((_, i) => Math.sin(i));
    const file = join(dir, 'untied.bin');
    const hdr = Buffer.from(src.subarray(0, 28));
    hdr.writeInt32LE(-h.vocabSize, 20);
    await writeFile(file, Buffer.concat([hdr, src.subarray(28), Buffer.from(cls.buffer)]));
    const m = await readLlama2c(file);
    expect(m.config.tieWordEmbeddings).toBe(false);
    expect(m.lmHead?.data).toEqual(cls);
    const deep = await readLlama2c(STORIES12L);
    expect(deep.layers.length).toBe(12);
    expect(deep.config.numKvHeads).toBe(4);
  });

  it('rejects truncated, too long and absurd files with InvalidModelFile', async () => {
    const src = await readFile(STORIES);
    const cases: [string, Buffer, RegExp][] = [
      ['truncated.bin', src.subarray(0, src.length - 4), /truncated.*1056540 bytes.*1056536/],
      ['long.bin', Buffer.concat([src, Buffer.alloc(4)]), /too long/],
      ['tiny.bin', src.subarray(0, 10), /header/],
      ['huge-dim.bin', header([1 << 30, 172, 5, 8, 4, 512, 512]), /dim/],
      ['zero-layers.bin', header([64, 172, 0, 8, 4, 512, 512]), /n_layers/],
      ['heads.bin', header([64, 172, 5, 7, 7, 512, 512]), /divide dim/],
      ['kv.bin', header([64, 172, 5, 8, 3, 512, 512]), /n_kv_heads/],
      ['neg-seq.bin', header([64, 172, 5, 8, 4, 512, -1]), /seq_len/],
    ];
    for (const [name, bytes, message] of cases) {
      const file = join(dir, name);
      await writeFile(file, bytes);
      const err = await readLlama2c(file).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(InvalidModelFile);
      expect((err as Error).message, name).toMatch(message);
    }
    await expect(readLlama2c(join(dir, 'missing.bin'))).rejects.toBeInstanceOf(InvalidModelFile);
    await copyFile(STORIES, join(dir, 'ok.bin'));
    await expect(readLlama2c(join(dir, 'ok.bin'))).resolves.toBeTruthy();
  });
});

describe('permuteForHalfRope', () => {
  const rows = 3 * 6;
  const m: Matrix = { rows, cols: 2, data: Float32Array.from({ length: rows * 2 }, (_, i) => i) };

  it('moves interleaved pair j of each head to rows j and j + dh/2', () => {
    const p = permuteForHalfRope(m, 3);
    for (let h = 0; h < 3; h++) {
      for (let j = 0; j < 3; j++) {
        expect(p.data[(h * 6 + j) * 2]).toBe(m.data[(h * 6 + 2 * j) * 2]);
        expect(p.data[(h * 6 + j + 3) * 2 + 1]).toBe(m.data[(h * 6 + 2 * j + 1) * 2 + 1]);
      }
    }
  });

  it('is undone by permuteForInterleavedRope', () => {
    expect(permuteForInterleavedRope(permuteForHalfRope(m, 3), 3).data).toEqual(m.data);
    expect(permuteForHalfRope(permuteForInterleavedRope(m, 3), 3).data).toEqual(m.data);
    expect(() => permuteForHalfRope(m, 4)).toThrow(RangeError);
  });
});
