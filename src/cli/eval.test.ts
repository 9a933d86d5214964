import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EVAL_TEXT, STORIES260K, TASK_DATA_DIR } from '../../test/fixtures/paths.ts';

const BIN = fileURLToPath(new URL('../../bin/flatgate.mjs', import.meta.url));
const MODEL = STORIES260K;

function flatgate(...args: string[]) {
  return flatgateEnv({}, ...args);
}

function flatgateEnv(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'eval', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
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
    expect(out.tasks.boolq).toEqual({ acc: expect.any(Number), acc_stderr: expect.any(Number), n: 3 });
    expect(out.tasks.boolq.acc_stderr).toBeCloseTo(Math.sqrt((out.tasks.boolq.acc * (1 - out.tasks.boolq.acc)) / 3), 12);
    expect(out.tasks.arc_challenge).toEqual({ acc: expect.any(Number), acc_stderr: expect.any(Number), acc_norm: expect.any(Number), acc_norm_stderr: expect.any(Number), n: 3 });
    expect(out.agreement).toMatchObject({ top1: 1, kl: 0 });
  });

  it('reads task files from FLATGATE_TASK_DATA_DIR unless --data-dir is given; takes a model folder', () => {
    const folder = dirname(STORIES260K);
    const env = { FLATGATE_TASK_DATA_DIR: '/nonexistent-tasks' };
    const bad = flatgateEnv(env, folder, '--tasks', 'piqa', '--limit', '2', '--threads', '1', '--json');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^flatgate: piqa: cannot read \/nonexistent-tasks\/piqa\/valid.jsonl .*\n$/);
    const ok = flatgateEnv(env, folder, '--tasks', 'piqa,arc_easy', '--limit', '2', '--data-dir', TASK_DATA_DIR, '--threads', '1', '--json');
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).tasks.arc_easy.n).toBe(2);
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
