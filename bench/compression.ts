/**
 * @module Compression benchmark (issue 3): perplexity on tinystories heldout.txt of dense, FlattenGPT,
 * its ablations, ShortGPT and SLEB, for stories260K (1 merge) and stories12L (2, 3, 4 merges),
 * calibrated on calib.txt (128 x 256 tokens, seed 0), with compression seconds; then an analysis on
 * stories12L (rho sweep, calibration size, where the error comes from). Writes
 * bench/results/compression.json. Usage: `npm run bench:compression [-- --threads N] [--quick]`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadCalibrationSet, type CalibrationSet } from '../src/compression/calibration.ts';
import { createChainDecoder } from '../src/compression/chain-decoder.ts';
import { flattenGpt, type FlattenGptOptions } from '../src/compression/flattengpt.ts';
import { shortGpt } from '../src/compression/shortgpt.ts';
import { sleb } from '../src/compression/sleb.ts';
import { collectSimilarity } from '../src/compression/statistics.ts';
import { withoutLayers } from '../src/compression/tensor-ops.ts';
import { loadModel } from '../src/model/load.ts';
import type { LlamaModel, LoadedModel } from '../src/model/types.ts';
import { perplexity } from '../src/serving/score.ts';
import { createDecoderSession } from '../src/serving/session/local-backend.ts';

const SHARED = new URL('../../shared/', import.meta.url).pathname;
const { values } = parseArgs({ options: { threads: { type: 'string' }, quick: { type: 'boolean' }, summarize: { type: 'boolean' } } });
const threads = Number(values.threads ?? 1);
const SAMPLES = values.quick ? 16 : 128;
const OUT = new URL('./results/compression.json', import.meta.url).pathname;

interface Entry { ppl: number; seconds: number; layers: number; params?: number; detail?: unknown }
const results: Record<string, unknown> = {
  setup: { calib: 'tinystories/calib.txt', samples: SAMPLES, calib_seq: 256, seed: 0, eval: 'tinystories/heldout.txt', threads,
    note: 'perplexity() windows of min(256, context - 1) tokens + BOS (255 for stories12L, whose context is 256; 256 for stories260K); ' +
      'seconds of FlattenGPT and ShortGPT include the similarity pass (computed once, shared); SLEB is run once to the largest depth and ' +
      'its first n rounds are the n-removal result (greedy), seconds cumulative; drop_plan_members removes all but the first layer of each FlattenGPT group' },
  models: {} as Record<string, unknown>,
  analysis: {} as Record<string, unknown>,
};
const save = async () => {
  await mkdir(new URL('./results/', import.meta.url).pathname, { recursive: true });
  await writeFile(OUT, JSON.stringify(results, null, 2) + '\n');
};
const secs = (t: number) => (performance.now() - t) / 1000;

async function ppl(loaded: LoadedModel, model: LlamaModel, ids: number[], wide = false): Promise<number> {
  const seq = Math.min(256, model.config.maxPositions - 1);
  const d = wide ? await createChainDecoder(model, { threads }) : await createDecoderSession(model, { threads });
  try {
    return (await perplexity(d, ids, { seq, bos: loaded.tokenizer.bosId, batch: 8 })).ppl;
  } finally {
    await d.release();
  }
}

async function flat(loaded: LoadedModel, calib: CalibrationSet, ids: number[], S: number[][], sSeconds: number, opts: Omit<FlattenGptOptions, 'similarity'>): Promise<Entry> {
  const t = performance.now();
  const r = await flattenGpt(loaded.model, calib, { threads, ...opts, similarity: S });
  const seconds = secs(t) + sSeconds;
  const detail = {
    groups: r.plan.groups.filter(([a, b]) => b > a),
    kept_kv_groups: r.groups.map((g) => g.heads?.keptKvGroups),
    kv_group_scores: r.groups.map((g) => g.heads?.groupScores.map((x) => +x.toFixed(4))),
    lambda: r.groups.map((g) => g.channels?.lambda),
    kept_channels_from_first_member: r.groups.map((g) => g.channels?.kept.filter((c) => c < loaded.model.config.intermediateSize).length),
  };
  return { ppl: await ppl(loaded, r.model, ids, !r.standard), seconds, layers: r.model.layers.length, detail };
}

const fmt = (e: Entry | undefined) => (e ? `${e.ppl.toFixed(3).padStart(8)} (${e.seconds.toFixed(1).padStart(5)}s)` : ''.padStart(17));

async function benchModel(name: string, path: string, mergeCounts: number[]): Promise<{ loaded: LoadedModel; calib: CalibrationSet; ids: number[]; S: number[][]; sSeconds: number; dense: number }> {
  const loaded = await loadModel(path);
  const calib = await loadCalibrationSet(`${SHARED}data/tinystories/calib.txt`, loaded.tokenizer, { samples: SAMPLES, seq: 256, seed: 0 });
  const ids = loaded.tokenizer.encode(await readFile(`${SHARED}data/tinystories/heldout.txt`, 'utf8'));
  const dense = await ppl(loaded, loaded.model, ids);
  let t = performance.now();
  const S = (await collectSimilarity(loaded.model, calib, { threads })).S;
  const sSeconds = secs(t);
  const rows: Record<string, Record<string, Entry>> = {};
  (results.models as Record<string, unknown>)[name] = { layers: loaded.model.layers.length, dense_ppl: dense, similarity_seconds: sSeconds, similarity: S, merges: rows };
  t = performance.now();
  const maxN = Math.max(...mergeCounts);
  const slebRun = await sleb(loaded.model, calib, { threads, remove: maxN });
  console.error(`${name}: sleb ${secs(t).toFixed(1)} s, removed ${slebRun.removed}`);
  console.log(`\n${name}  dense ppl ${dense.toFixed(3)}  (similarity ${sSeconds.toFixed(1)} s)`);
  console.log('merges  flattengpt         +refit-o           no-prune          no-compensate     magnitude         shortgpt          sleb              drop-2nd-members');
  for (const n of mergeCounts) {
    const row: Record<string, Entry> = {};
    rows[n] = row;
    row.flattengpt = await flat(loaded, calib, ids, S, sSeconds, { merges: n });
    row.refit_o = await flat(loaded, calib, ids, S, sSeconds, { merges: n, refitO: true });
    row.no_prune = await flat(loaded, calib, ids, S, sSeconds, { merges: n, prune: false });
    row.no_compensate = await flat(loaded, calib, ids, S, sSeconds, { merges: n, compensate: false });
    row.magnitude = await flat(loaded, calib, ids, S, sSeconds, { merges: n, scoring: 'magnitude' });
    t = performance.now();
    const sg = await shortGpt(loaded.model, calib, { remove: n, similarity: S });
    const sgSeconds = secs(t) + sSeconds;
    row.shortgpt = { ppl: await ppl(loaded, sg.model, ids), seconds: sgSeconds, layers: sg.model.layers.length, detail: { removed: sg.removed } };
    const removed = slebRun.removed.slice(0, n);
    const slebSeconds = slebRun.rounds.slice(0, n).reduce((s, r) => s + r.seconds, 0);
    row.sleb = { ppl: await ppl(loaded, withoutLayers(loaded.model, removed), ids), seconds: slebSeconds, layers: loaded.model.layers.length - n, detail: { removed } };
    const groups = (row.flattengpt.detail as { groups: [number, number][] }).groups;
    const drop = groups.flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + 1 + i));
    row.drop_plan_members = { ppl: await ppl(loaded, withoutLayers(loaded.model, drop), ids), seconds: 0, layers: loaded.model.layers.length - n, detail: { removed: drop } };
    const r = row;
    console.log(`${String(n).padEnd(8)}${fmt(r.flattengpt)} ${fmt(r.refit_o)} ${fmt(r.no_prune)} ${fmt(r.no_compensate)} ${fmt(r.magnitude)} ${fmt(r.shortgpt)} ${fmt(r.sleb)} ${fmt(r.drop_plan_members)}`);
    await save();
  }
  return { loaded, calib, ids, S, sSeconds, dense };
}

type Bench = Awaited<ReturnType<typeof benchModel>>;

/** Where FlattenGPT's error comes from on one model: rho, pruning heads vs channels, guards, calibration size. */
async function analyse(name: string, m: Bench, merges: number[]): Promise<void> {
  const out: Record<string, unknown> = {};
  (results.analysis as Record<string, unknown>)[name] = out;
  const { loaded, calib, ids, S, sSeconds } = m;
  const cfg = loaded.model.config;
  for (const n of merges) {
    const sweep: Record<string, number> = {};
    out[`rho_sweep_${n}_merges`] = sweep;
    for (const rho of [1e-4, 1e-3, 1e-1, 1, 10]) sweep[rho] = (await flat(loaded, calib, ids, S, sSeconds, { merges: n, rho })).ppl;
    console.error(`${name} rho sweep (${n} merges): ${JSON.stringify(sweep)}`);
    out[`error_decomposition_${n}_merges`] = {
      heads_only_pruned: (await flat(loaded, calib, ids, S, sSeconds, { merges: n, keepChannels: 2 * cfg.intermediateSize })).ppl,
      channels_only_pruned: (await flat(loaded, calib, ids, S, sSeconds, { merges: n, keepKvGroups: 2 * cfg.numKvHeads })).ppl,
      ends_allowed: (await flat(loaded, calib, ids, S, sSeconds, { merges: n, plan: { excludeEnds: false } })).ppl,
    };
    console.error(`${name} decomposition (${n} merges): ${JSON.stringify(out[`error_decomposition_${n}_merges`])}`);
    await save();
  }
  const n = Math.max(...merges);
  const sizes: Record<string, number> = {};
  out[`calibration_samples_${n}_merges`] = sizes;
  for (const samples of [32, 512].filter((s) => s !== SAMPLES)) {
    const c = await loadCalibrationSet(`${SHARED}data/tinystories/calib.txt`, loaded.tokenizer, { samples, seq: 256, seed: 0 });
    sizes[samples] = (await flat(loaded, c, ids, (await collectSimilarity(loaded.model, c, { threads })).S, 0, { merges: n })).ppl;
    console.error(`${name} calibration ${samples} samples: ${sizes[samples].toFixed(3)}`);
    await save();
  }
}

/** Per setting: does FlattenGPT beat the best whole-block removal, and what flattening vs pruning cost. */
function verdicts(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [name, m] of Object.entries(results.models as Record<string, { dense_ppl: number; merges: Record<string, Record<string, Entry>> }>)) {
    for (const [n, row] of Object.entries(m.merges)) {
      const best = row.shortgpt.ppl <= row.sleb.ppl ? 'shortgpt' : 'sleb';
      out.push({
        model: name, merges: Number(n), flattengpt: row.flattengpt.ppl, best_block_removal: best, best_block_removal_ppl: row[best].ppl,
        flattengpt_wins: row.flattengpt.ppl < row[best].ppl,
        flattening_cost: row.no_prune.ppl - m.dense_ppl, pruning_cost: row.flattengpt.ppl - row.no_prune.ppl,
        compensation_gain: row.no_compensate.ppl - row.flattengpt.ppl, leverage_vs_magnitude: row.magnitude.ppl - row.flattengpt.ppl,
        ...(row.refit_o ? { o_refit_gain: row.flattengpt.ppl - row.refit_o.ppl } : {}),
      });
    }
  }
  return out;
}

if (values.summarize) {
  Object.assign(results, JSON.parse(await readFile(OUT, 'utf8')));
} else {
  // hand-written findings survive a rerun; the numbers they cite are regenerated beside them
  const previous = await readFile(OUT, 'utf8').then((t) => JSON.parse(t) as { analysis?: { findings?: unknown } }, () => null);
  if (previous?.analysis?.findings) (results.analysis as Record<string, unknown>).findings = previous.analysis.findings;
  const m260 = await benchModel('stories260K', `${SHARED}models/stories260K/stories260K.bin`, [1]);
  const m12 = await benchModel('stories12L', `${SHARED}models/stories12L/stories12L.bin`, [2, 3, 4]);
  await analyse('stories260K', m260, [1]);
  await analyse('stories12L', m12, [2, 4]);
}
(results.analysis as Record<string, unknown>).verdicts = verdicts();
console.log(JSON.stringify(results.analysis, null, 1));
await save();
