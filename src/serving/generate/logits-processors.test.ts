import { describe, expect, it } from 'vitest';
import { processesLogits, processLogits, TokenHistory } from './logits-processors.ts';

/** vLLM's apply_penalties written out element by element in float64, from its definition. */
function reference(
  logits: number[],
  prompt: number[],
  output: number[],
  p: { rep: number; freq: number; pres: number; bias: Record<number, number>; minTokens: number; stopIds: number[] },
): number[] {
  const out = logits.slice();
  if (output.length < p.minTokens) for (const s of p.stopIds) out[s] = -Infinity;
  for (const [id, b] of Object.entries(p.bias)) out[Number(id)] += b;
  for (let v = 0; v < out.length; v++) {
    const count = output.filter((x) => x === v).length;
    const seen = count > 0 || prompt.includes(v);
    if (seen) out[v] = out[v] > 0 ? out[v] / p.rep : out[v] * p.rep;
    out[v] -= p.freq * count;
    out[v] -= p.pres * (count > 0 ? 1 : 0);
  }
  return out;
}

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('vLLM logits processors', () => {
  it('match the float64 reference of apply_penalties, logit_bias and min_tokens on random rows', () => {
    const rnd = lcg(7);
    for (let trial = 0; trial < 50; trial++) {
      const V = 40;
      const row = Float32Array.from({ length: V }, () => (rnd() - 0.5) * 8);
      const prompt = Array.from({ length: 6 }, () => Math.floor(rnd() * V));
      const output = Array.from({ length: Math.floor(rnd() * 12) }, () => Math.floor(rnd() * V));
      const p = { rep: 0.5 + rnd() * 1.5, freq: (rnd() - 0.5) * 4, pres: (rnd() - 0.5) * 4, bias: { 3: 5, 17: -100 }, minTokens: 5, stopIds: [2] };
      const seen = new TokenHistory(prompt);
      output.forEach((id) => seen.push(id));
      const got = processLogits(row, { repetitionPenalty: p.rep, frequencyPenalty: p.freq, presencePenalty: p.pres, logitBias: new Map([[3, 5], [17, -100]]), minTokens: 5 }, seen, [2]);
      const want = reference(Array.from(row), prompt, output, p);
      for (let v = 0; v < V; v++) {
        if (want[v] === -Infinity) expect(got[v]).toBe(-Infinity);
        else expect(Math.abs(got[v] - want[v])).toBeLessThan(1e-12 * Math.max(1, Math.abs(want[v])));
      }
    }
  });

  it('repetition penalty divides positive logits and multiplies negative ones, for prompt tokens too', () => {
    const seen = new TokenHistory([0, 1]);
    const out = processLogits([2, -2, 3], { repetitionPenalty: 2 }, seen, []);
    expect(Array.from(out)).toEqual([1, -4, 3]);
  });

  it('presence and frequency count output tokens only', () => {
    const seen = new TokenHistory([0]);
    seen.push(1);
    seen.push(1);
    const out = processLogits([1, 1, 1], { frequencyPenalty: 0.5, presencePenalty: 0.25 }, seen, []);
    expect(Array.from(out)).toEqual([1, 1 - 2 * 0.5 - 0.25, 1]);
  });

  it('is off by default', () => {
    expect(processesLogits({})).toBe(false);
    expect(processesLogits({ repetitionPenalty: 1, frequencyPenalty: 0, presencePenalty: 0, minTokens: 0 })).toBe(false);
    expect(processesLogits({ minTokens: 1 })).toBe(true);
  });
});
