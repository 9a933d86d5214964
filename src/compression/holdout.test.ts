import { describe, expect, it } from 'vitest';
import { createRng } from '../serving/generate/sampling.ts';
import { buildCalibrationSet } from './calibration.ts';
import { heldOutWindows } from './holdout.ts';

const rand = createRng(3);
const ids = Array.from({ length: 2000 }, () => 3 + Math.floor(rand() * 500));

describe('heldOutWindows', () => {
  it('draws windows that overlap no statistics window and no other held-out window, deterministically', () => {
    const calib = buildCalibrationSet(ids, 1, { samples: 8, seq: 64, seed: 4 });
    const a = heldOutWindows(ids, 1, calib, 6);
    expect(a.disjoint).toBe(true);
    expect(a.set.samples).toHaveLength(6);
    const apart = (x: number, y: number) => x + 63 <= y || y + 63 <= x;
    for (const [i, o] of a.set.offsets!.entries()) {
      for (const c of calib.offsets!) expect(apart(o, c)).toBe(true);
      for (const h of a.set.offsets!.slice(i + 1)) expect(apart(o, h)).toBe(true);
    }
    for (const [i, row] of a.set.samples.entries()) expect(row).toEqual([1, ...ids.slice(a.set.offsets![i], a.set.offsets![i] + 63)]);
    expect(heldOutWindows(ids, 1, calib, 6).set.samples).toEqual(a.set.samples);
  });

  it('says so when the text is too short to keep them apart', () => {
    const calib = buildCalibrationSet(ids.slice(0, 200), 1, { samples: 8, seq: 64, seed: 4 });
    expect(heldOutWindows(ids.slice(0, 200), 1, calib, 2).disjoint).toBe(false);
    expect(() => heldOutWindows(ids, 1, calib, 0)).toThrow(/positive integer/);
  });
});
