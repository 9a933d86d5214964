import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/flatgate.mjs', import.meta.url));

describe('flatgate worker', () => {
  it('refuses to start when FLATGATE_TASK_DATA_DIR is not a folder, before reaching the gateway', () => {
    const env = { ...process.env, FLATGATE_S3_ENDPOINT: 'http://127.0.0.1:9', FLATGATE_WORKER_TOKEN: 'tok', FLATGATE_TASK_DATA_DIR: '/nonexistent-tasks' };
    const r = spawnSync(process.execPath, [BIN, 'worker', '--gateway', 'http://127.0.0.1:9', '--once'], { encoding: 'utf8', env, timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('flatgate: FLATGATE_TASK_DATA_DIR=/nonexistent-tasks is not a folder (unset it for the bundled task subsets)\n');
  });
});
