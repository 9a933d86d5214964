import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EVAL_TEXT, STORIES260K } from '../../test/fixtures/paths.ts';

const BIN = fileURLToPath(new URL('../../bin/flatgate.mjs', import.meta.url));
const MODEL = STORIES260K;

function flatgate(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'eval', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('flatgate eval', () => {
  it('prints {ppl, tasks, agreement} as JSON', () => {
    const r = flatgate(MODEL, '--ppl', EVAL_TEXT, '--seq', '256', '--tasks', 'boolq,arc_challenge', '--limit', '3', '--against', MODEL, '--threads', '1', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ppl).toBeGreaterThan(1);
    expect(Object.keys(out.tasks)).toEqual(['boolq', 'arc_challenge']);
    expect(out.tasks.boolq).toEqual({ acc: expect.any(Number), n: 3 });
    expect(out.tasks.arc_challenge).toEqual({ acc: expect.any(Number), acc_norm: expect.any(Number), n: 3 });
    expect(out.agreement).toMatchObject({ top1: 1, kl: 0 });
  });

  it('one-line errors for unknown tasks, missing files and nothing to do', () => {
    const cases: [string[], RegExp][] = [
      [[MODEL, '--tasks', 'piqa,mmlu'], /^flatgate: unknown task 'mmlu' \(known: .*\)\n$/],
      [[MODEL, '--ppl', '/nonexistent.txt'], /^flatgate: cannot read \/nonexistent.txt\n$/],
      [[MODEL, '--tasks', 'piqa', '--data-dir', '/nonexistent'], /^flatgate: piqa: cannot read \/nonexistent\/piqa\/valid.jsonl .*\n$/],
      [['/nonexistent.bin', '--tasks', 'piqa'], /^flatgate: \/nonexistent.bin: no such file or folder\n$/],
      [[MODEL, '--against', MODEL], /^flatgate: --against needs --ppl FILE.*\n$/],
      [[MODEL], /^flatgate: nothing to evaluate; usage: .*\n$/],
    ];
    for (const [args, message] of cases) {
      const r = flatgate(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
    }
  });
});
