/**
 * @module Error measures for comparing a result with a reference in tests: the largest absolute
 * difference relative to the largest reference magnitude.
 */

/**
 * max_i |a_i - b_i| / max_i |b_i|, over the entries of `b` (the reference).
 * @example relErr([1, 2.001], [1, 2]) // 0.0005
 */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return relErrRows([a], [b]);
}

/**
 * {@link relErr} over all rows together: max |a[t][i] - b[t][i]| / max |b[t][i]|, over every row `t`
 * of `a` and every entry of the reference row `b[t]`.
 */
export function relErrRows(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): number {
  let num = 0;
  let den = 0;
  for (let t = 0; t < a.length; t++) {
    const x = a[t];
    const y = b[t];
    for (let i = 0; i < y.length; i++) {
      num = Math.max(num, Math.abs(x[i] - y[i]));
      den = Math.max(den, Math.abs(y[i]));
    }
  }
  return num / den;
}
