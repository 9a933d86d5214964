/**
 * Issue 2's acceptance checks, run through the real `flatgate` command line where the issue names it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/load.ts';
import { logSoftmax } from '../../src/serving/generate/sampling.ts';
import { createDecoderSession } from '../../src/serving/session/local-backend.ts';
import { forward64, logSoftmax64 } from '../reference/forward64.ts';
import { RunC } from '../reference/run-c.ts';
import { relErr } from '../reference/compare.ts';
import { EVAL_TEXT, GREEDY_REFERENCE, STORIES260K, TOK512 } from '../fixtures/paths.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/flatgate.mjs');
const STORIES = STORIES260K;
const EVAL = EVAL_TEXT;

async function flatgate(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { maxBuffer: 1 << 24 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

describe('flatgate generate reproduces llama2.c greedy output', () => {
  let reference: string;
  beforeAll(async () => {
    reference = (await readFile(GREEDY_REFERENCE, 'utf8')).trim();
  });

  it('60 tokens: a prefix of the reference, at least 150 characters', async () => {
    const r = await flatgate('generate', STORIES, '--prompt', '', '--max-tokens', '60', '--temperature', '0');
    expect(r.code).toBe(0);
    const out = r.stdout.trim();
    expect(out.length).toBeGreaterThanOrEqual(150);
    expect(reference.startsWith(out)).toBe(true);
  });

  it('the full 256-token story', async () => {
    const r = await flatgate('generate', STORIES, '--prompt', '', '--max-tokens', '256', '--temperature', '0');
    expect(r.stdout.trim()).toBe(reference);
  });
});

describe('flatgate score', () => {
  it('agrees with the float64 reference (0.1%) and with an independent run.c port (0.5%)', async () => {
    const r = await flatgate('score', STORIES, '--text-file', EVAL, '--seq', '256', '--json');
    expect(r.code).toBe(0);
    const ours = JSON.parse(r.stdout) as { tokens: number; nll: number; ppl: number };

    const { model, tokenizer } = await loadModel(STORIES);
    const ids = tokenizer.encode(await readFile(EVAL, 'utf8'));
    expect(ours.tokens).toBe(ids.length);
    const runc = RunC.load(STORIES);
    let nll64 = 0;
    let nllC = 0;
    for (let s = 0; s < ids.length; s += 256) {
      const win = [tokenizer.bosId, ...ids.slice(s, s + 256)];
      const { logits } = forward64(model, win.slice(0, -1));
      for (let t = 0; t + 1 < win.length; t++) {
        nll64 -= logSoftmax64(logits[t])[win[t + 1]];
        nllC -= logSoftmax(runc.forward(win[t], t))[win[t + 1]];
      }
    }
    const ppl64 = Math.exp(nll64 / ids.length);
    const pplC = Math.exp(nllC / ids.length);
    expect(Math.abs(ours.ppl / ppl64 - 1)).toBeLessThan(1e-3);
    expect(Math.abs(ours.ppl / pplC - 1)).toBeLessThan(5e-3);
    expect(ours.nll).toBeCloseTo(Math.log(ours.ppl), 10);
  });
});

describe('flatgate convert --to hf', () => {
  it('the HF folder gives identical greedy output and logits within 1e-5', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'flatgate-hf-')), 'stories260K');
    expect((await flatgate('convert', STORIES, '--to', 'hf', '--out', out)).code).toBe(0);
    const gen = (m: string) => flatgate('generate', m, '--prompt', 'Once upon a time', '--max-tokens', '80', '--temperature', '0');
    expect((await gen(out)).stdout).toBe((await gen(STORIES)).stdout);

    const a = await loadModel(STORIES);
    const b = await loadModel(out);
    const text = 'Lily and Ben went to the park. They saw a big dog!';
    expect(b.tokenizer.encode(text, { bos: true })).toEqual(a.tokenizer.encode(text, { bos: true }));
    const ids = a.tokenizer.encode(text, { bos: true });
    const [sa, sb] = await Promise.all([createDecoderSession(a.model, { threads: 1 }), createDecoderSession(b.model, { threads: 1 })]);
    const [la, lb] = await Promise.all([sa.step(ids, 1, null), sb.step(ids, 1, null)]);
    expect(relErr(lb.logits, la.logits)).toBeLessThan(1e-5);
  });
});

describe('flatgate inspect', () => {
  it('describes stories260K as JSON', async () => {
    const r = await flatgate('inspect', STORIES, '--json');
    const d = JSON.parse(r.stdout);
    expect(d).toMatchObject({ architecture: 'LlamaForCausalLM', layers: 5, heads: 8, kv_heads: 4, hidden_size: 64, vocab_size: 512, dtype: 'F32' });
    expect(d.params).toBeGreaterThan(200_000);
  });
});

describe('bad input: one clear error line and a non-zero exit', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flatgate-bad-'));
  });

  async function expectOneLineError(args: string[], pattern: RegExp) {
    const r = await flatgate(...args);
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^flatgate: /);
    expect(lines[0]).toMatch(pattern);
  }

  it('a truncated .bin', async () => {
    const bytes = await readFile(STORIES);
    const file = join(dir, 'trunc', 'model.bin');
    await mkdir(join(dir, 'trunc'));
    await writeFile(file, bytes.subarray(0, 100_000));
    await copyFile(TOK512, join(dir, 'trunc', 'tok512.bin'));
    await expectOneLineError(['inspect', file], /model\.bin/);
  });

  async function hfFolder(name: string): Promise<string> {
    const out = join(dir, name);
    await flatgate('convert', STORIES, '--to', 'hf', '--out', out);
    return out;
  }

  it('a safetensors file whose header lies', async () => {
    const out = await hfFolder('lying');
    const file = join(out, 'model.safetensors');
    const bytes = await readFile(file);
    bytes.writeBigUInt64LE(10n ** 12n, 0);
    await writeFile(file, bytes);
    await expectOneLineError(['inspect', out], /model\.safetensors/);
  });

  it('a config with a missing field, an absurd field, an unknown architecture', async () => {
    const out = await hfFolder('config');
    const configFile = join(out, 'config.json');
    const config = JSON.parse(await readFile(configFile, 'utf8'));
    const { hidden_size: _, ...missing } = config;
    await writeFile(configFile, JSON.stringify(missing));
    await expectOneLineError(['inspect', out], /hidden_size/);
    await writeFile(configFile, JSON.stringify({ ...config, num_hidden_layers: 1e9 }));
    await expectOneLineError(['inspect', out], /num_hidden_layers/);
    await writeFile(configFile, JSON.stringify({ ...config, architectures: ['GPT2LMHeadModel'] }));
    await expectOneLineError(['inspect', out], /GPT2LMHeadModel/);
  });

  it('an unknown flag and a missing file', async () => {
    await expectOneLineError(['generate', STORIES, '--bogus', '1'], /bogus/);
    await expectOneLineError(['inspect', join(dir, 'nope.bin')], /nope\.bin/);
  });
});
