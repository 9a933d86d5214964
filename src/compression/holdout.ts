/**
 * @module Held-out calibration windows for the plan search (issue 12): windows of the calibration text
 * that no statistics window touches, so that a candidate is scored on tokens its pruning never saw.
 */
import { readFile } from 'node:fs/promises';
import { InvalidRequest } from '../errors.ts';
import type { Tokenizer } from '../model/types.ts';
import { createRng } from '../serving/generate/sampling.ts';
import type { CalibrationSet } from './calibration.ts';

/** Held-out windows (a calibration set of their own) and whether they avoid every statistics window. */
export interface HeldOut {
  set: CalibrationSet;
  /** False when the text was too short to find `count` windows apart from the statistics ones. */
  disjoint: boolean;
}

/**
 * `count` windows of `calib.seq` tokens (BOS first) from `ids` (the tokenized calibration text) that do
 * not overlap `calib`'s windows where the text allows (at most 64 draws per window; then overlapping
 * ones are taken and `disjoint` is false). Deterministic for the calibration seed.
 * @example const { set } = heldOutWindows(tok.encode(text), tok.bosId, calib, 16)
 */
export function heldOutWindows(ids: readonly number[], bos: number, calib: CalibrationSet, count: number): HeldOut {
  if (!Number.isInteger(count) || count < 1) throw new InvalidRequest(`held-out window count must be a positive integer, got ${count}`, 'holdout');
  const span = calib.seq - 1;
  if (ids.length < span) throw new InvalidRequest(`calibration text has ${ids.length} tokens, fewer than one window of ${span}`, 'calib');
  const used = [...(calib.offsets ?? [])];
  const rand = createRng(calib.seed * 7919 + 104729);
  const draw = () => Math.floor(rand() * (ids.length - span + 1));
  const clear = (off: number) => used.every((u) => off + span <= u || u + span <= off);
  const samples: number[][] = [];
  const offsets: number[] = [];
  let disjoint = calib.offsets !== undefined;
  for (let i = 0; i < count; i++) {
    let off = draw();
    for (let tries = 1; tries < 64 && !clear(off); tries++) off = draw();
    if (!clear(off)) disjoint = false;
    used.push(off);
    offsets.push(off);
    samples.push([bos, ...ids.slice(off, off + span)]);
  }
  return { set: { samples, seq: calib.seq, seed: calib.seed, file: calib.file, textTokens: ids.length, offsets }, disjoint };
}

/** Reads and tokenizes the calibration file again, then {@link heldOutWindows}. */
export async function loadHeldOutWindows(file: string, tokenizer: Tokenizer, calib: CalibrationSet, count: number): Promise<HeldOut> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new InvalidRequest(`cannot read calibration text ${file}`, 'calib');
  });
  return heldOutWindows(tokenizer.encode(text), tokenizer.bosId, calib, count);
}
