/**
 * @module Linear-algebra benchmark: the MLP channel selection of one flattened block (ridge leverage
 * scores of an n x n Gram matrix, then the ridge compensation of down_proj on the kept half) with the
 * plain TypeScript loops and with the blocked kernels on onnxruntime (src/compression/math/dense.ts),
 * interleaved per size. n = 2 x the MLP width: 4096 is the 124.7M shape, 11264 TinyLlama-1.1B's.
 * The plain loops are skipped above --plain-max (default 4096: at 11264 they take over ten minutes).
 * Run with `npm run bench:linalg [-- --sizes 2048,4096,11264 --threads 2]`. Writes bench/results/linalg.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DenseLinearAlgebra } from '../src/compression/math/dense.ts';
import { ridgeCompensation } from '../src/compression/math/ridge-compensation.ts';
import { ridgeLeverage } from '../src/compression/math/ridge-leverage.ts';
import { complementOf, topK } from '../src/compression/math/topk.ts';
import { createRng } from '../src/serving/generate/sampling.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const SIZES = arg('sizes', '2048,4096,11264').split(',').map(Number);
const PLAIN_MAX = Number(arg('plain-max', '4096'));
const THREADS = Number(arg('threads', '2'));
const OUT_DIM = (n: number) => n / 5.5;
const round = (x: number, d = 2) => Number(x.toFixed(d));

/** A Gram matrix of correlated activations: C = G G^T / r + small diagonal, G n x r (r < n: rank-deficient part). */
async function gram(n: number, la: DenseLinearAlgebra): Promise<Float64Array> {
  const r = Math.floor(n / 2);
  const rand = createRng(n);
  const G = Float64Array.from({ length: n * r }, () => rand() - 0.5);
  const C = await la.gemm(G, G, n, r, n, 'nt');
  for (let i = 0; i < n; i++) C[i * n + i] += 1e-3;
  return C;
}

/** One channel selection: leverage, top half, compensation. Seconds of each part. */
async function select(C: Float64Array, n: number, Wd: Float64Array, out: number, la?: DenseLinearAlgebra) {
  let t = performance.now();
  const lev = await ridgeLeverage(C, n, 1e-2, la);
  const leverageS = (performance.now() - t) / 1000;
  const keep = topK(lev.scores, n / 2);
  t = performance.now();
  const W = await ridgeCompensation(C, n, keep, complementOf(keep, n), lev.lambda, Wd, out, la);
  return { leverageS, compensationS: (performance.now() - t) / 1000, scores: lev.scores, W };
}

const loadBefore = loadavg().map((x) => round(x));
const la = await DenseLinearAlgebra.open({ threads: THREADS, provider: 'cpu' });
const rows: Record<string, unknown>[] = [];
try {
  for (const n of SIZES) {
    const out = Math.round(OUT_DIM(n));
    const C = await gram(n, la);
    const rand = createRng(n + 1);
    const Wd = Float64Array.from({ length: n * out }, () => rand() - 0.5);
    const blocked = await select(C, n, Wd, out, la);
    const row: Record<string, unknown> = { n, out, blocked_leverage_s: round(blocked.leverageS), blocked_compensation_s: round(blocked.compensationS) };
    if (n <= PLAIN_MAX) {
      const plain = await select(C, n, Wd, out);
      let ds = 0;
      let dw = 0;
      let w = 0;
      for (let i = 0; i < n; i++) ds = Math.max(ds, Math.abs(plain.scores[i] - blocked.scores[i]));
      for (let i = 0; i < plain.W.length; i++) {
        dw = Math.max(dw, Math.abs(plain.W[i] - blocked.W[i]));
        w = Math.max(w, Math.abs(plain.W[i]));
      }
      Object.assign(row, {
        plain_leverage_s: round(plain.leverageS), plain_compensation_s: round(plain.compensationS),
        speedup: round((plain.leverageS + plain.compensationS) / (blocked.leverageS + blocked.compensationS), 1),
        max_score_difference: ds, max_weight_difference_relative: dw / w,
      });
    }
    rows.push(row);
    console.log(JSON.stringify(row));
  }
} finally {
  await la.release();
}

console.log('\n    n  blocked lev  blocked comp  plain lev  plain comp  speedup');
for (const r of rows) {
  const f = (k: string) => (r[k] === undefined ? '-' : String(r[k])).padStart(11);
  console.log(`${String(r.n).padStart(5)}  ${f('blocked_leverage_s')}  ${f('blocked_compensation_s')}  ${f('plain_leverage_s')}  ${f('plain_compensation_s')}  ${f('speedup')}`);
}
const cpu = cpus();
const result = {
  date: new Date().toISOString(),
  machine: { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version, loadAverageBefore: loadBefore, loadAverageAfter: loadavg().map((x) => round(x)) },
  settings: { threads: THREADS, block: la.block, plain_max: PLAIN_MAX },
  rows,
};
await mkdir(join(HERE, 'results'), { recursive: true });
await writeFile(join(HERE, 'results', 'linalg.json'), JSON.stringify(result, null, 2) + '\n');
console.log('wrote bench/results/linalg.json');
