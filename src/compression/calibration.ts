/**
 * @module The calibration set of a compression job (flattengpt.md section 5): `samples` sequences of
 * `seq` tokens, each BOS followed by seq - 1 consecutive tokens from a seeded random offset of the
 * tokenized text. Deterministic for a fixed seed; every method of a job uses the same set.
 */
import { readFile } from 'node:fs/promises';
import { InvalidRequest } from '../errors.ts';
import type { Tokenizer } from '../model/types.ts';
import { createRng } from '../serving/generate/sampling.ts';

/** The calibration set and where it came from (recorded in report.json). */
export interface CalibrationSet {
  /** samples[i]: `seq` token ids, samples[i][0] = BOS. */
  samples: number[][];
  seq: number;
  seed: number;
  /** The text file (or a label for in-memory text). */
  file: string;
  /** Tokens in the whole tokenized text. */
  textTokens: number;
  /** Where each sample starts in the tokenized text (so held-out windows can avoid them). */
  offsets?: number[];
}

/** Parameters of {@link buildCalibrationSet}. */
export interface CalibrationOptions {
  samples: number;
  seq: number;
  seed: number;
  file?: string;
}

/**
 * Calibration samples from already tokenized text (no BOS in `ids`).
 * @throws InvalidRequest for bad counts or a text shorter than seq - 1 tokens.
 * @example buildCalibrationSet(tok.encode(text), tok.bosId, { samples: 128, seq: 256, seed: 0 })
 */
export function buildCalibrationSet(ids: readonly number[], bos: number, opts: CalibrationOptions): CalibrationSet {
  const { samples, seq, seed } = opts;
  if (!Number.isInteger(samples) || samples < 1) throw new InvalidRequest(`calibration sample count must be a positive integer, got ${samples}`, 'calib-samples');
  if (!Number.isInteger(seq) || seq < 2) throw new InvalidRequest(`calibration sequence length must be an integer >= 2, got ${seq}`, 'seq');
  if (!Number.isInteger(seed)) throw new InvalidRequest(`seed must be an integer, got ${seed}`, 'seed');
  const span = seq - 1;
  if (ids.length < span) {
    throw new InvalidRequest(`calibration text has ${ids.length} tokens, fewer than the ${span} one sample needs`, 'calib');
  }
  const rand = createRng(seed);
  const out: number[][] = [];
  const offsets: number[] = [];
  for (let i = 0; i < samples; i++) {
    const off = Math.floor(rand() * (ids.length - span + 1));
    out.push([bos, ...ids.slice(off, off + span)]);
    offsets.push(off);
  }
  return { samples: out, seq, seed, file: opts.file ?? '<text>', textTokens: ids.length, offsets };
}

/**
 * Reads and tokenizes `file`, then builds the set.
 * @throws InvalidRequest when the file cannot be read or is too short.
 */
export async function loadCalibrationSet(file: string, tokenizer: Tokenizer, opts: Omit<CalibrationOptions, 'file'>): Promise<CalibrationSet> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new InvalidRequest(`cannot read calibration text ${file}`, 'calib');
  });
  return buildCalibrationSet(tokenizer.encode(text), tokenizer.bosId, { ...opts, file });
}

/** One batch of calibration rows: `ids` is [batch, seq] row-major. */
export interface CalibrationBatch {
  ids: number[];
  batch: number;
  seq: number;
  /** Index of the batch's first sample. */
  first: number;
}

/**
 * Tokens per calibration batch when the caller does not choose: the engine's intermediate activations
 * of a (flattened, twice as wide) block grow with the tokens of a batch, and at 8 x 256 they were the
 * worker's peak memory on the 124.7M shape.
 */
export const DEFAULT_BATCH_TOKENS = 1024;

/** Samples per batch for sequences of `seq` tokens: DEFAULT_BATCH_TOKENS worth, from 1 to 8. */
export function defaultBatchSize(seq: number): number {
  return Math.max(1, Math.min(8, Math.floor(DEFAULT_BATCH_TOKENS / seq)));
}

/** The set in consecutive batches of at most `batchSize` samples. */
export function calibrationBatches(set: CalibrationSet, batchSize: number): CalibrationBatch[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidRequest(`batch size must be a positive integer, got ${batchSize}`);
  const out: CalibrationBatch[] = [];
  for (let i = 0; i < set.samples.length; i += batchSize) {
    const rows = set.samples.slice(i, i + batchSize);
    out.push({ ids: rows.flat(), batch: rows.length, seq: set.seq, first: i });
  }
  return out;
}

/** Number of calibration tokens (samples x seq). */
export function calibrationTokens(set: CalibrationSet): number {
  return set.samples.length * set.seq;
}
