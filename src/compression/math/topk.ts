/**
 * @module Top-k selection by score, deterministic on ties.
 */

/**
 * Indices of the k highest scores, returned in ascending index order. Ties go to the lower index;
 * NaN ranks below every number.
 * @example topK([0.5, 0.9, 0.5, 0.1], 2) // [0, 1]
 */
export function topK(scores: ArrayLike<number>, k: number): number[] {
  const n = scores.length;
  if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`topK: k = ${k} outside 0..${n}`);
  const key = (i: number) => (Number.isNaN(scores[i]) ? -Infinity : scores[i]);
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka !== kb) return ka > kb ? -1 : 1;
    const na = Number.isNaN(scores[a]);
    if (na !== Number.isNaN(scores[b])) return na ? 1 : -1;
    return a - b;
  });
  return order.slice(0, k).sort((a, b) => a - b);
}

/** The indices in 0..n-1 that are not in `keep` (ascending). */
export function complementOf(keep: readonly number[], n: number): number[] {
  const kept = new Uint8Array(n);
  for (const i of keep) kept[i] = 1;
  const rest: number[] = [];
  for (let i = 0; i < n; i++) if (!kept[i]) rest.push(i);
  return rest;
}
