import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Llama2cTokenizer } from '../model/tokenizer/llama2c-tokenizer.ts';
import { buildCalibrationSet, calibrationBatches, defaultBatchSize, loadCalibrationSet } from './calibration.ts';
import { EVAL_TEXT, TOK512 } from '../../test/fixtures/paths.ts';

const ids = Array.from({ length: 50 }, (_, i) => 100 + i);

describe('calibration set', () => {
  it('samples BOS + seq-1 consecutive tokens, deterministically for a seed', () => {
    const a = buildCalibrationSet(ids, 1, { samples: 6, seq: 8, seed: 3 });
    expect(a.samples).toHaveLength(6);
    for (const s of a.samples) {
      expect(s).toHaveLength(8);
      expect(s[0]).toBe(1);
      const off = s[1] - 100;
      expect(s.slice(1)).toEqual(ids.slice(off, off + 7));
    }
    expect(buildCalibrationSet(ids, 1, { samples: 6, seq: 8, seed: 3 })).toEqual(a);
    expect(buildCalibrationSet(ids, 1, { samples: 6, seq: 8, seed: 4 }).samples).not.toEqual(a.samples);
    // a text exactly one sample long gives that sample every time
    expect(buildCalibrationSet(ids.slice(0, 7), 1, { samples: 2, seq: 8, seed: 0 }).samples).toEqual([[1, ...ids.slice(0, 7)], [1, ...ids.slice(0, 7)]]);
  });

  it('rejects bad parameters and short texts with InvalidRequest', () => {
    expect(() => buildCalibrationSet(ids, 1, { samples: 0, seq: 8, seed: 0 })).toThrow(/sample count/);
    expect(() => buildCalibrationSet(ids, 1, { samples: 1, seq: 1, seed: 0 })).toThrow(/sequence length/);
    expect(() => buildCalibrationSet(ids.slice(0, 5), 1, { samples: 1, seq: 8, seed: 0 })).toThrow(/fewer than/);
  });

  it('batches keep sample order', () => {
    const set = buildCalibrationSet(ids, 1, { samples: 5, seq: 4, seed: 1 });
    const b = calibrationBatches(set, 2);
    expect(b.map((x) => x.batch)).toEqual([2, 2, 1]);
    expect(b.flatMap((x) => x.ids)).toEqual(set.samples.flat());
  });

  it('tokenizes a real text file', async () => {
    const tok = await Llama2cTokenizer.load(TOK512, 512);
    const set = await loadCalibrationSet(EVAL_TEXT, tok, { samples: 3, seq: 16, seed: 0 });
    expect(set.file).toMatch(/tinystories-eval/);
    expect(set.samples.every((s) => s.length === 16 && s[0] === tok.bosId)).toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'calib-'));
    await writeFile(join(dir, 'short.txt'), 'Hi.');
    await expect(loadCalibrationSet(join(dir, 'short.txt'), tok, { samples: 1, seq: 64, seed: 0 })).rejects.toThrow(/fewer than/);
    await expect(loadCalibrationSet(join(dir, 'missing.txt'), tok, { samples: 1, seq: 64, seed: 0 })).rejects.toThrow(/cannot read/);
  });
});

describe('defaultBatchSize', () => {
  it('gives about 1024 tokens per batch, from 1 to 8 samples', () => {
    expect([16, 128, 256, 512, 1000, 2048, 4096].map(defaultBatchSize)).toEqual([8, 8, 4, 2, 1, 1, 1]);
  });
});
