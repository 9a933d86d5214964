import { describe, expect, it } from 'vitest';
import { randomModel } from '../../../test/fixtures/random-model.ts';
import { relErr } from '../../../test/reference/compare.ts';
import { forward64 } from '../../../test/reference/forward64.ts';
import { createDecoderSession } from './local-backend.ts';

/** Deterministic token streams, different per sequence. */
const tokens = (seed: number, n: number, V: number) => Array.from({ length: n }, (_, i) => (i * 31 + seed * 17 + 3) % V);

describe('decoder batch (continuous batching) vs the float64 reference', () => {
  for (const [name, opts] of [
    ['GQA', { numHeads: 4, numKvHeads: 2, seed: 11 }],
    ['Mistral sliding window', { architecture: 'MistralForCausalLM', slidingWindow: 5, seed: 12 }],
  ] as const) {
    it(`${name}: rows of different lengths joining, stepping and leaving at different times`, async () => {
      const model = randomModel(opts);
      const V = model.config.vocabSize;
      const s = await createDecoderSession(model, { threads: 1, provider: 'cpu' });
      const batch = s.openBatch!(3);
      // each sequence: a prompt then forced continuation tokens; rows track what each has consumed
      const seqs = [tokens(1, 30, V), tokens(2, 30, V), tokens(3, 30, V), tokens(4, 30, V)];
      const refs = seqs.map((ids) => forward64(model, ids).logits);
      const rows: { seq: number; pos: number }[] = [];
      const join = async (seq: number, prompt: number, capacity: number) => {
        const logits = await batch.join(seqs[seq].slice(0, prompt), capacity);
        expect(relErr(logits, refs[seq][prompt - 1])).toBeLessThan(1e-4);
        rows.push({ seq, pos: prompt });
      };
      const step = async () => {
        const logits = await batch.step(rows.map((r) => seqs[r.seq][r.pos]));
        rows.forEach((r, i) => {
          expect(relErr(logits.subarray(i * V, (i + 1) * V), refs[r.seq][r.pos])).toBeLessThan(1e-4);
          r.pos++;
        });
      };
      const leave = (i: number) => {
        batch.leave(i);
        const last = rows.pop()!;
        if (i < rows.length) rows[i] = last;
      };
      await join(0, 3, 20);
      await step();
      await step();
      await join(1, 9, 29); // longer prompt joins a running row
      await step();
      await join(2, 1, 30); // grows the rows and the capacity
      for (let t = 0; t < 4; t++) await step();
      leave(0); // the last row moves into row 0
      expect(batch.rows).toBe(2);
      await step();
      await join(3, 5, 25);
      await expect(batch.join(seqs[0].slice(0, 2), 10)).rejects.toThrow(/full/);
      for (let t = 0; t < 6; t++) await step();
      leave(2);
      leave(0);
      await step();
      leave(0);
      expect(batch.rows).toBe(0);
      expect(batch.kvBytes).toBe(0);
      await s.release();
    });
  }
});
