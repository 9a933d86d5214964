import { describe, expect, it } from 'vitest';
import { loadModel } from '../../model/load.ts';
import { IncrementalText } from './incremental-text.ts';

describe('IncrementalText', () => {
  it('gives the same text as decoding everything at once, across UTF-8 byte tokens and leading spaces', async () => {
    const { tokenizer } = await loadModel('fixtures/models/stories260K/stories260K.bin');
    const prompt = tokenizer.encode('Once upon', { bos: true });
    const gen = tokenizer.encode(' a time, Lily said "héllo 世界 🙂" and  ran.\nThe end, really the end of it all.');
    const t = new IncrementalText(tokenizer, prompt);
    const base = tokenizer.decode(prompt);
    for (let i = 0; i < gen.length; i++) {
      const got = t.push(gen[i]);
      const want = tokenizer.decode([...prompt, ...gen.slice(0, i + 1)]).slice(base.length);
      expect(got.replace(/\uFFFD+$/, '')).toBe(want.replace(/\uFFFD+$/, ''));
    }
  });
});
