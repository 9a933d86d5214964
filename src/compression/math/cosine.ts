/**
 * @module The layer similarity matrix of FlattenGPT's plan (flattengpt.md section 1):
 * S[i][j] = mean over tokens t of cos(H^i_t, H^j_t), accumulated in float64.
 */

/**
 * Accumulates sum_t cos(H^i_t, H^j_t) over batches of tokens. A zero vector has cosine 0 with
 * everything (itself included); callers exclude padding tokens before `add`.
 * @example
 * const acc = new SimilarityAccumulator(L);
 * acc.add(hiddenPerLayer, tokens, D);
 * const S = acc.matrix();
 */
export class SimilarityAccumulator {
  private readonly sums: Float64Array;
  private tokens = 0;

  /** @param layers number of hidden states per token (L block inputs, optionally + the final one). */
  constructor(readonly layers: number) {
    if (!Number.isInteger(layers) || layers < 1) throw new RangeError(`SimilarityAccumulator: bad layer count ${layers}`);
    this.sums = new Float64Array(layers * layers);
  }

  /** Number of tokens added so far. */
  get count(): number {
    return this.tokens;
  }

  /**
   * Adds a batch: hidden[l] is tokens x D row-major, the input of layer l for each token.
   */
  add(hidden: readonly ArrayLike<number>[], tokens: number, D: number): void {
    const L = this.layers;
    if (hidden.length !== L) throw new RangeError(`SimilarityAccumulator.add: ${hidden.length} layers, expected ${L}`);
    for (const h of hidden) {
      if (h.length !== tokens * D) throw new RangeError(`SimilarityAccumulator.add: a layer has ${h.length} entries, expected ${tokens}x${D}`);
    }
    const unit = new Float64Array(L * D);
    for (let t = 0; t < tokens; t++) {
      const base = t * D;
      for (let l = 0; l < L; l++) {
        const h = hidden[l];
        let ss = 0;
        for (let c = 0; c < D; c++) ss += h[base + c] * h[base + c];
        const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
        for (let c = 0; c < D; c++) unit[l * D + c] = h[base + c] * inv;
      }
      for (let i = 0; i < L; i++) {
        for (let j = i; j < L; j++) {
          let dot = 0;
          for (let c = 0; c < D; c++) dot += unit[i * D + c] * unit[j * D + c];
          this.sums[i * L + j] += dot;
        }
      }
    }
    this.tokens += tokens;
  }

  /** The symmetric mean-cosine matrix S (L x L); throws if no token was added. */
  matrix(): number[][] {
    const L = this.layers;
    if (this.tokens === 0) throw new RangeError('SimilarityAccumulator.matrix: no tokens added');
    return Array.from({ length: L }, (_, i) =>
      Array.from({ length: L }, (_, j) => this.sums[Math.min(i, j) * L + Math.max(i, j)] / this.tokens),
    );
  }
}
