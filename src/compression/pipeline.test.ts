import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { randomModel } from '../../test/fixtures/random-model.ts';
import { forward64 } from '../../test/reference/forward64.ts';
import { compressCommand, jobFromFlags } from '../cli/compress.ts';
import { loadModel } from '../model/load.ts';
import { saveHfFolder } from '../model/save-hf.ts';
import { Llama2cTokenizer } from '../model/tokenizer/llama2c-tokenizer.ts';
import { countParams, type LoadedModel } from '../model/types.ts';
import { createDecoderSession } from '../serving/session/local-backend.ts';
import { runCompression, type CompressJob } from './pipeline.ts';
import type { CompressionReport } from './report.ts';
import { blockParams } from './tensor-ops.ts';
import { EVAL_TEXT, TOK512 } from '../../test/fixtures/paths.ts';

const TEXT = EVAL_TEXT;

async function savedRandomModel(): Promise<{ dir: string; loaded: LoadedModel }> {
  const tokenizer = await Llama2cTokenizer.load(TOK512, 512);
  const model = randomModel({ numLayers: 5, vocabSize: 512, maxPositions: 64, numHeads: 4, numKvHeads: 2, seed: 17 });
  const dir = await mkdtemp(join(tmpdir(), 'flatgate-compress-'));
  const loaded = { model, tokenizer, source: 'random' };
  await saveHfFolder(join(dir, 'in'), loaded);
  return { dir, loaded };
}

const job = (over: Partial<CompressJob>): CompressJob => ({
  method: 'flattengpt', target: { merges: 2 }, calib: { file: TEXT, samples: 4, seq: 24, seed: 0 }, threads: 1, provider: 'cpu', ...over,
});

describe('compression pipeline', () => {
  it('writes a loadable HF folder with report.json for every method', async () => {
    const { dir, loaded } = await savedRandomModel();
    const perBlock = blockParams(loaded.model.layers[0]);
    for (const method of ['flattengpt', 'shortgpt', 'sleb'] as const) {
      const out = join(dir, method);
      const report = await runCompression(join(dir, 'in'), job({ method, evalText: TEXT, evalSeq: 32 }), out);
      const files = await readdir(out);
      expect(files).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'report.json']));
      const json = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as CompressionReport;
      expect(json).toEqual(report);
      expect(json).toMatchObject({ method, layers_before: 5, layers_after: 3, params_after: countParams(loaded.model) - 2 * perBlock, exported: true, standard: true });
      expect(json.calibration).toEqual({ file: TEXT, samples: 4, seq: 24, seed: 0, tokens: 96 });
      expect(json.similarity).toHaveLength(5);
      expect(json.similarity.every((r) => r.length === 5)).toBe(true);
      expect(json.evaluation!.ppl).toBeGreaterThan(1);
      if (method === 'flattengpt') {
        expect(json.groups!.flat()).toHaveLength(6);
        expect(json.lambda.length).toBeGreaterThan(0);
        expect(json.group_details[0].kept_kv_groups).toHaveLength(2);
      } else {
        expect(json.removed).toHaveLength(2);
      }
      // the folder reads back and runs like the float64 reference of the compressed weights
      const back = await loadModel(out);
      expect(back.model.layers).toHaveLength(3);
      const s = await createDecoderSession(back.model, { threads: 1, provider: 'cpu' });
      const ids = [1, 45, 300, 12, 7];
      const got = (await s.step(ids, 1, null)).logits;
      const want = forward64(back.model, ids).logits.flatMap((r) => [...r]);
      const err = Math.max(...want.map((w, i) => Math.abs(w - got[i]))) / Math.max(...want.map(Math.abs));
      expect(err).toBeLessThan(1e-4);
      await s.release();
    }
  });

  it('--no-prune writes only report.json (wide blocks are not a standard checkpoint) and still evaluates', async () => {
    const { dir } = await savedRandomModel();
    const out = join(dir, 'wide');
    const report = await runCompression(join(dir, 'in'), job({ prune: false, target: { merges: 1 }, evalText: TEXT, evalSeq: 32 }), out);
    expect(await readdir(out)).toEqual(['report.json']);
    expect(report).toMatchObject({ standard: false, exported: false, layers_after: 4 });
    expect(report.notes.join()).toMatch(/not a standard checkpoint/);
    expect(report.evaluation!.ppl).toBeGreaterThan(1);
  });

  it('flatgate compress --ratio R removes round(R * params / block params) layers and reports the search', async () => {
    const { dir, loaded } = await savedRandomModel();
    const out = join(dir, 'ratio');
    const total = countParams(loaded.model);
    const perBlock = blockParams(loaded.model.layers[0]);
    const ratio = 0.3;
    const lines: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => void lines.push(a.join(' '));
    try {
      await compressCommand([join(dir, 'in'), '--method', 'flattengpt', '--ratio', String(ratio), '--calib', TEXT, '--calib-samples', '4', '--seq', '24', '--threads', '1', '--out', out]);
    } finally {
      console.log = log;
    }
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as CompressionReport;
    const merges = Math.round((ratio * total) / perBlock);
    expect(merges).toBeGreaterThan(0);
    expect(report.layers_after).toBe(5 - merges);
    expect(report.param_ratio_removed).toBeCloseTo((merges * perBlock) / total, 12);
    expect(report.candidates!.length).toBeGreaterThanOrEqual(2);
    expect(report.candidates!.filter((c) => c.chosen)).toHaveLength(1);
    expect(report.search!.reason).toMatch(/o_proj refit (on|off)/);
    expect(lines.join('\n')).toMatch(new RegExp(`5 -> ${5 - merges} layers`));
    expect(jobFromFlags({ method: 'flattengpt', ratio: '0.3', calib: TEXT, 'no-search': true, 'no-refit-o': true })).toMatchObject({ search: false, refitO: false });
    expect(() => jobFromFlags({ method: 'flattengpt', ratio: '1.5', calib: TEXT })).toThrow(/--ratio must be a number in \[0, 0.99\]/);
  });

  it('rejects bad input with one clear InvalidRequest', async () => {
    const { dir } = await savedRandomModel();
    await expect(runCompression(join(dir, 'in'), job({ target: { merges: 5 } }), join(dir, 'x'))).rejects.toThrow(/merges must be an integer from 0 to 4/);
    await expect(runCompression(join(dir, 'in'), job({ calib: { file: TEXT, samples: 2, seq: 65, seed: 0 } }), join(dir, 'x'))).rejects.toThrow(/context/);
    await expect(runCompression(join(dir, 'in'), job({ calib: { file: join(dir, 'nope.txt'), samples: 2, seed: 0 } }), join(dir, 'x'))).rejects.toThrow(/cannot read/);
    expect(() => jobFromFlags({ method: 'flattengpt', merges: '2' })).toThrow(/--calib FILE is required/);
    expect(() => jobFromFlags({ method: 'prune', merges: '2', calib: TEXT })).toThrow(/--method must be one of/);
    expect(() => jobFromFlags({ method: 'sleb', merges: '2', ratio: '0.1', calib: TEXT })).toThrow(/exactly one/);
    expect(() => jobFromFlags({ method: 'sleb', merges: '2', calib: TEXT, rho: '1' })).toThrow(/only to --method flattengpt/);
    expect(jobFromFlags({ method: 'flattengpt', ratio: '0.2', calib: TEXT, 'no-compensate': true })).toMatchObject({ target: { ratio: 0.2 }, compensate: false, prune: true, calib: { samples: 128, seed: 0 } });
  });
});
