/**
 * @module The device-machine benchmark (issue 6): in one short run, on a random-weight model of a real
 * shape, (1) serving prefill/decode throughput and (2) FlattenGPT compression time, with the CUDA
 * execution provider and with the CPU provider. Each row records the provider that actually ran: without
 * onnxruntime-node's CUDA provider libraries (fetched by its install script with network access, as the
 * GPU worker image does) CUDA requests fall back to the CPU, and the JSON says so.
 * Usage: `npx tsx bench/gpu.ts [--shape 1b|124m] [--providers cuda,cpu] [--threads N]`; writes
 * bench/results/gpu.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { buildCalibrationSet } from '../src/compression/calibration.ts';
import { flattenGpt } from '../src/compression/flattengpt.ts';
import { countParams } from '../src/model/types.ts';
import type { ProviderPreference } from '../src/serving/session/backend.ts';
import { createDecoderSession, cudaProviderInstalled } from '../src/serving/session/local-backend.ts';
import { randomModel } from '../test/fixtures/random-model.ts';

const SHAPES = {
  // a TinyLlama-like 1B shape with 16 of its 22 layers: ~0.9B parameters, 3.6 GB in fp32
  '1b': { hiddenSize: 2048, numLayers: 16, intermediateSize: 5632, numHeads: 32, numKvHeads: 4, headDim: 64, vocabSize: 32000, maxPositions: 2048 },
  '124m': { hiddenSize: 768, numLayers: 12, intermediateSize: 2048, numHeads: 12, numKvHeads: 4, headDim: 64, vocabSize: 32000, maxPositions: 2048 },
} as const;

const { values } = parseArgs({ options: { shape: { type: 'string' }, providers: { type: 'string' }, threads: { type: 'string' } } });
const shapeName = (values.shape ?? '1b') as keyof typeof SHAPES;
const providers = (values.providers ?? 'cuda,cpu').split(',') as ProviderPreference[];
const threads = Number(values.threads ?? cpus().length);
const secs = (t: number) => (performance.now() - t) / 1000;

const model = randomModel({ ...SHAPES[shapeName], seed: 2026 });
const rows: Record<string, unknown>[] = [];
console.log(`shape ${shapeName}: ${(countParams(model) / 1e6).toFixed(1)}M parameters; CUDA provider installed: ${cudaProviderInstalled()}`);

for (const provider of providers) {
  const session = await createDecoderSession(model, { provider, threads }).catch((err: Error) => err);
  if (session instanceof Error) {
    rows.push({ requested: provider, error: session.message });
    console.log(`${provider}: ${session.message}`);
    continue;
  }
  const prompt = Array.from({ length: 512 }, (_, i) => 3 + ((i * 7919) % 31000));
  await session.step(prompt.slice(0, 16), 1, null, 1); // warm-up
  let t = performance.now();
  let step = await session.step(prompt, 1, null, 1);
  const prefill = prompt.length / secs(t);
  t = performance.now();
  for (let i = 0; i < 64; i++) step = await session.step([5 + i], 1, step.cache, 1);
  const decode = 64 / secs(t);
  await session.release();

  const ids = Array.from({ length: 20_000 }, (_, i) => 3 + ((i * 104729) % 31000));
  const calib = buildCalibrationSet(ids, 1, { samples: 16, seq: 256, seed: 0, file: 'random ids' });
  t = performance.now();
  const r = await flattenGpt(model, calib, { merges: 2, provider, threads, batchSize: 4 });
  const compressSeconds = secs(t);
  const row = { requested: provider, provider: session.provider, compressionProvider: r.provider, prefillTokS: prefill, decodeTokS: decode, compressSeconds, calib: '16 x 256 tokens, 2 merges' };
  rows.push(row);
  console.log(JSON.stringify(row));
}

const out = { date: new Date().toISOString(), shape: shapeName, params: countParams(model), threads, cudaProviderInstalled: cudaProviderInstalled(), rows };
await mkdir(new URL('./results/', import.meta.url).pathname, { recursive: true });
await writeFile(new URL('./results/gpu.json', import.meta.url).pathname, JSON.stringify(out, null, 2) + '\n');
