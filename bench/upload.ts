/**
 * @module Upload-to-done benchmark: a random-weight model (the 124.7M shape, TinyLlama-1.1B's shape, or a
 * tiny one for smoke runs) packed as an HF folder .tar, uploaded to a real gateway (`src/server.ts` as a
 * child process, with its embedded worker), compressed by the job (FlattenGPT + ShortGPT by default),
 * evaluated and served. Samples the resident memory of the gateway and the worker (peak from
 * /proc/PID/status VmHWM) and times each job stage. Run with `npm run bench:upload [-- --model 124m
 * --calib-samples 32 --plan-candidates 1 --task-limit 50]`. The archive is written by a child process (`--write-folder`). Writes bench/results/upload-<model>.json. Linux only (reads /proc).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { saveHfFolder } from '../src/model/save-hf.ts';
import { countParams, type DType } from '../src/model/types.ts';
import { benchModel } from './shapes.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const SERVER = join(HERE, '..', 'src', 'server.ts');
const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const MODEL = arg('model', '124m');
const DTYPE = arg('dtype', MODEL === '1b' ? 'BF16' : 'F32') as DType;
const QUERY = {
  methods: arg('methods', 'flattengpt,shortgpt'),
  calib_samples: arg('calib-samples', '32'),
  evaluate: arg('evaluate', 'true'),
  ...(args.includes('--seq') ? { seq: arg('seq', '256') } : {}),
  ...(args.includes('--plan-candidates') ? { plan_candidates: arg('plan-candidates', '6') } : {}),
  ...(args.includes('--task-limit') ? { task_limit: arg('task-limit', '50') } : {}),
};
const LIMIT_S = Number(arg('limit-s', '7200'));
const round = (x: number, d = 1) => Number(x.toFixed(d));
const mib = (kb: number) => round(kb / 1024, 0);

/** VmRSS and VmHWM (peak) of a process, in kB; null once it is gone. */
function memoryOf(pid: number): { rss: number; hwm: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** Direct children of `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function startGateway(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const env = {
    ...process.env, FLATGATE_DATA_DIR: dataDir, PORT: '0', FLATGATE_AUTH: 'open', FLATGATE_DEMO_MODEL: 'none', FLATGATE_EMBEDDED_S3_PORT: '0',
    // a shorter lease makes the worker report its stage every 5 s (heartbeats come every lease / 3)
    FLATGATE_JOB_LEASE_MS: '15000',
    ...(args.includes('--threads') ? { FLATGATE_THREADS: arg('threads', '2') } : {}),
    ...(args.includes('--worker-threads') ? { FLATGATE_WORKER_THREADS: arg('worker-threads', '2') } : {}),
  };
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '--import', 'tsx', SERVER], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /listening on (http:\/\/\S+)/.exec(l);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
  return { url, child };
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = loadavg().map((x) => round(x, 2));
  const root = await mkdtemp(join(tmpdir(), 'fg-upload-'));
  let gateway: ChildProcess | null = null;
  const killer = setTimeout(() => {
    console.error(`time limit of ${LIMIT_S} s reached`);
    gateway?.kill('SIGKILL');
    process.exit(1);
  }, LIMIT_S * 1000);
  try {
    // the archive: built by a child process, so that none of the model's memory stays in this one
    let t = performance.now();
    const folder = join(root, 'bench-model');
    execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--write-folder', folder, '--model', MODEL, '--dtype', DTYPE], { stdio: 'inherit' });
    const params = (JSON.parse(readFileSync(`${folder}.params.json`, 'utf8')) as { params: number }).params;
    const tarFile = join(root, 'model.tar');
    execFileSync('tar', ['-cf', tarFile, '-C', root, 'bench-model']);
    await rm(folder, { recursive: true });
    const archiveBytes = statSync(tarFile).size;
    const prepareS = (performance.now() - t) / 1000;
    console.log(`${MODEL}: ${(params / 1e6).toFixed(1)}M parameters, ${DTYPE}, archive ${(archiveBytes / 2 ** 20).toFixed(0)} MiB (built in ${prepareS.toFixed(0)} s)`);

    const gw = await startGateway(join(root, 'data'));
    gateway = gw.child;
    const peak = { gateway: 0, worker: 0 };
    let workerPid: number | null = null;
    const sample = () => {
      const g = memoryOf(gw.child.pid!);
      if (g) peak.gateway = Math.max(peak.gateway, g.hwm);
      workerPid ??= childrenOf(gw.child.pid!)[0] ?? null;
      const w = workerPid ? memoryOf(workerPid) : null;
      if (w) peak.worker = Math.max(peak.worker, w.hwm);
    };
    const sampler = setInterval(sample, 250);

    t = performance.now();
    const query = new URLSearchParams({ name: 'bench', ...QUERY });
    const res = await fetch(`${gw.url}/v1/uploads?${query}`, {
      method: 'POST', headers: { 'content-type': 'application/x-tar', 'content-length': String(archiveBytes) },
      body: Readable.toWeb(createReadStream(tarFile)) as ReadableStream, duplex: 'half',
    } as RequestInit);
    const accepted = (await res.json()) as { job?: { id: string } | string; error?: unknown };
    if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${JSON.stringify(accepted)}`);
    const uploadS = (performance.now() - t) / 1000;
    const jobId = typeof accepted.job === 'string' ? accepted.job : accepted.job!.id;

    // stage transitions of the job, as the gateway reports them
    const stages: { stage: string; at: number }[] = [];
    let job: { status: string; stage: string; error: string | null };
    const jobStart = performance.now();
    for (;;) {
      job = (await (await fetch(`${gw.url}/v1/jobs/${jobId}`)).json()) as typeof job;
      const stage = `${job.status === 'running' ? '' : `${job.status}:`}${job.stage ?? ''}`;
      if (stages.at(-1)?.stage !== stage) stages.push({ stage, at: (performance.now() - jobStart) / 1000 });
      if (job.status === 'done' || job.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const jobS = (performance.now() - jobStart) / 1000;
    if (job.status === 'failed') throw new Error(`job failed: ${job.error}`);
    const perStage: Record<string, number> = {};
    stages.forEach((s, i) => {
      const name = s.stage.split(':').slice(0, 2).join(':');
      perStage[name] = round((perStage[name] ?? 0) + ((stages[i + 1]?.at ?? jobS) - s.at), 1);
    });

    // serve: the first completion of each variant loads it; the second is warm
    const models = (await (await fetch(`${gw.url}/v1/models`)).json()) as { data: { id: string }[] };
    const serving: Record<string, { first_s: number; warm_tok_s: number }> = {};
    for (const { id } of models.data.filter((m) => m.id === 'bench' || m.id.startsWith('bench:'))) {
      const complete = async () => {
        const t0 = performance.now();
        const r = await fetch(`${gw.url}/v1/completions`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: id, prompt: 'Once upon a time', max_tokens: 32, temperature: 0 }),
        });
        const body = (await r.json()) as { usage?: { completion_tokens: number } };
        if (!r.ok) throw new Error(`serving ${id} answered ${r.status}: ${JSON.stringify(body)}`);
        return { s: (performance.now() - t0) / 1000, tokens: body.usage!.completion_tokens };
      };
      const first = await complete();
      const warm = await complete();
      serving[id] = { first_s: round(first.s, 2), warm_tok_s: round(warm.tokens / warm.s) };
    }
    sample();
    clearInterval(sampler);

    console.log(`\nupload ${uploadS.toFixed(1)} s, job ${jobS.toFixed(1)} s`);
    const head = ['stage', 'seconds'];
    const rows = Object.entries(perStage).map(([k, v]) => [k, String(v)]);
    const w0 = Math.max(head[0].length, ...rows.map((r) => r[0].length));
    console.log(`${head[0].padEnd(w0)}  ${head[1]}`);
    for (const r of rows) console.log(`${r[0].padEnd(w0)}  ${r[1].padStart(7)}`);
    console.log(`\npeak RSS: gateway ${mib(peak.gateway)} MiB, worker ${mib(peak.worker)} MiB`);
    for (const [id, s] of Object.entries(serving)) console.log(`serve ${id}: first request ${s.first_s} s, warm ${s.warm_tok_s} tok/s`);

    const cpu = cpus();
    const out = {
      date: new Date().toISOString(),
      machine: { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 2 ** 30), node: process.version, loadAverageBefore: loadBefore, loadAverageAfter: loadavg().map((x) => round(x, 2)) },
      settings: { model: MODEL, dtype: DTYPE, params, archive_bytes: archiveBytes, query: QUERY, threads: arg('threads', 'default'), worker_threads: arg('worker-threads', 'default') },
      seconds: { prepare_archive: round(prepareS), upload: round(uploadS, 2), job: round(jobS), stages: perStage },
      transitions: stages.map((s) => ({ ...s, at: round(s.at, 2) })),
      peak_rss_mib: { gateway: mib(peak.gateway), worker: mib(peak.worker) },
      serving,
      durationS: round((Date.now() - started) / 1000),
    };
    await mkdir(join(HERE, 'results'), { recursive: true });
    await writeFile(join(HERE, 'results', `upload-${MODEL}.json`), JSON.stringify(out, null, 2) + '\n');
    console.log(`\nwrote bench/results/upload-${MODEL}.json (${out.durationS} s)`);
  } finally {
    clearTimeout(killer);
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((r) => gateway!.once('exit', r));
      gateway.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (gateway.exitCode === null) gateway.kill('SIGKILL');
    }
    await rm(root, { recursive: true, force: true });
  }
}

if (args.includes('--write-folder')) {
  const loaded = await benchModel(MODEL);
  const folder = arg('write-folder', '');
  await saveHfFolder(folder, loaded, { dtype: DTYPE });
  await writeFile(`${folder}.params.json`, JSON.stringify({ params: countParams(loaded.model) }));
} else {
  await main();
}
