import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { randomModel } from '../../test/fixtures/random-model.ts';
import { relErr } from '../../test/reference/compare.ts';
import { forward64 } from '../../test/reference/forward64.ts';
import { loadModel } from '../model/load.ts';
import { STORIES260K } from '../../test/fixtures/paths.ts';
import { writeOnnxExport } from './export-onnx.ts';

describe('ONNX export written piece by piece', () => {
  it('loads from disk in onnxruntime and computes the float64 reference logits', async () => {
    const { tokenizer } = await loadModel(STORIES260K);
    const model = randomModel({ seed: 21, vocabSize: 512 });
    const dir = await mkdtemp(join(tmpdir(), 'fg-onnx-'));
    try {
      await writeOnnxExport(dir, { model, tokenizer, source: 'random' });
      const data = await stat(join(dir, 'model.onnx.data'));
      expect(data.size).toBeGreaterThan(model.embed.data.byteLength);
      const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
      const ids = [1, 17, 99, 4, 250];
      const L = model.layers.length;
      const { numKvHeads, headDim } = model.config;
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.keys(), BigInt), [1, ids.length]),
      };
      for (let l = 0; l < L; l++) {
        for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, numKvHeads, 0, headDim]);
      }
      const out = await session.run(feeds);
      const ref = forward64(model, ids).logits;
      expect(relErr(out.logits.data as Float32Array, Float64Array.from(ref.flatMap((r) => [...r])))).toBeLessThan(1e-4);
      await session.release();
      expect(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).num_hidden_layers).toBe(L);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
