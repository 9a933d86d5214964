/**
 * @module `flatgate worker --gateway URL`: a compression worker that pulls jobs from a gateway over HTTP.
 * Storage settings, the token and the task data folder come from the environment (FLATGATE_S3_*,
 * FLATGATE_WORKER_TOKEN, FLATGATE_TASK_DATA_DIR).
 */
import { stat } from 'node:fs/promises';
import { loadConfig } from '../config.ts';
import { InvalidRequest } from '../errors.ts';
import { runWorker } from '../jobs/worker-loop.ts';
import { ObjectStore } from '../storage/object-store.ts';
import { num, parse } from './args.ts';

/** Runs the worker until SIGINT/SIGTERM (or after one job with `--once`). */
export async function workerCommand(argv: string[], env: Record<string, string | undefined> = process.env): Promise<void> {
  const { values } = parse(argv, {
    gateway: { type: 'string' },
    token: { type: 'string' },
    id: { type: 'string' },
    threads: { type: 'string' },
    'poll-ms': { type: 'string' },
    once: { type: 'boolean' },
  });
  const config = loadConfig(env);
  const gatewayUrl = values.gateway ?? config.gatewayUrl;
  const token = values.token ?? config.workerToken;
  if (!gatewayUrl) throw new InvalidRequest('usage: flatgate worker --gateway URL (or FLATGATE_GATEWAY_URL)', 'gateway');
  if (!token) throw new InvalidRequest('a worker token is required: --token T or FLATGATE_WORKER_TOKEN', 'token');
  if (!config.s3.endpoint) throw new InvalidRequest('the worker needs FLATGATE_S3_ENDPOINT (and credentials) to reach object storage', 'FLATGATE_S3_ENDPOINT');
  // every default job evaluates the zero-shot tasks: a wrong folder should stop the worker now, not fail each job
  if (!(await stat(config.taskDataDir).catch(() => null))?.isDirectory()) {
    throw new InvalidRequest(`FLATGATE_TASK_DATA_DIR=${config.taskDataDir} is not a folder (unset it for the bundled task subsets)`, 'FLATGATE_TASK_DATA_DIR');
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const workerId = values.id ?? config.workerId;
  console.log(`flatgate worker ${workerId} pulling jobs from ${gatewayUrl}`);
  try {
    await runWorker({
      gatewayUrl,
      token,
      workerId,
      store: new ObjectStore(config.s3),
      dataDir: config.dataDir,
      threads: num(values.threads, 'threads', { min: 1, max: 1024, int: true }) ?? config.threads,
      taskDataDir: config.taskDataDir,
      pollMs: num(values['poll-ms'], 'poll-ms', { min: 10, max: 600_000, int: true }),
      once: values.once,
      signal: stop.signal,
      log: (m) => console.log(`[worker ${workerId}] ${m}`),
    });
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}
