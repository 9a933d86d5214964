/**
 * @module Dense float64 linear algebra at BLAS speed for the large Gram matrices of 1B-class models
 * (an MLP Gram of a flattened TinyLlama block is 11264 x 11264): Cholesky, diag(A^-1) and A X = B as
 * blocked algorithms whose O(n^3) work is matrix products on onnxruntime (float64 MatMul, about 50x the
 * plain TypeScript loops of cholesky.ts on the same cores), and whose small diagonal blocks use those
 * loops. Extra memory beyond the n x n input is O(n x block) doubles, never a second n x n matrix.
 */
import { ElemType, GraphBuilder } from '../../serving/graph/builder.ts';
import type { GraphSession, SessionOptions } from '../../serving/session/backend.ts';
import { createGraphSession } from '../../serving/session/local-backend.ts';
import { cholesky, choleskyInverseDiagonal, choleskySolve, NotPositiveDefinite } from './cholesky.ts';

/** Default block size: large enough for the engine's GEMM to run near peak, small enough for cheap diagonal blocks. */
export const DEFAULT_BLOCK = 512;

/** Which operand of a product is transposed. */
type Trans = 'nn' | 'nt' | 'tn';

/** Copies rows r0..r0+rows, columns c0..c0+cols of the row-major matrix `A` (n columns). */
function sub(A: Float64Array, n: number, r0: number, c0: number, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(A.subarray((r0 + r) * n + c0, (r0 + r) * n + c0 + cols), r * cols);
  return out;
}

/** Writes `B` (rows x cols) into `A` (n columns) at (r0, c0). */
function put(A: Float64Array, n: number, r0: number, c0: number, B: Float64Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) A.set(B.subarray(r * cols, (r + 1) * cols), (r0 + r) * n + c0);
}

/** Inverse of the lower-triangular n x n `L` (lower triangular, row-major), by substitution. */
export function lowerInverse(L: Float64Array, n: number): Float64Array {
  const X = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    X[j * n + j] = 1 / L[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s += L[i * n + k] * X[k * n + j];
      X[i * n + j] = -s / L[i * n + i];
    }
  }
  return X;
}

/**
 * Blocked dense kernels over one set of onnxruntime sessions (open once per compression, release after).
 * Matrices of at most `block` rows take the plain loops directly.
 * @example const la = await DenseLinearAlgebra.open({ threads: 2 }); const L = await la.cholesky(A, n); await la.release();
 */
export class DenseLinearAlgebra {
  private readonly sessions = new Map<Trans, Promise<GraphSession>>();

  private constructor(
    private readonly opts: SessionOptions,
    readonly block: number,
  ) {}

  /** Kernels running on the engine `opts` selects; `block` sets the blocking (tests use small blocks). */
  static async open(opts: SessionOptions & { block?: number } = {}): Promise<DenseLinearAlgebra> {
    const { block = DEFAULT_BLOCK, ...session } = opts;
    if (!(Number.isInteger(block) && block >= 1)) throw new RangeError(`block must be a positive integer, got ${block}`);
    return new DenseLinearAlgebra(session, block);
  }

  private session(trans: Trans): Promise<GraphSession> {
    let s = this.sessions.get(trans);
    if (!s) {
      const g = new GraphBuilder(`flatgate_gemm_${trans}`);
      const a = g.input('a', ElemType.DOUBLE, trans === 'tn' ? ['k', 'm'] : ['m', 'k']);
      const b = g.input('b', ElemType.DOUBLE, trans === 'nt' ? ['n', 'k'] : ['k', 'n']);
      const t = (x: string) => g.node('Transpose', [x], { attrs: { perm: [1, 0] } });
      g.output(g.node('MatMul', [trans === 'tn' ? t(a) : a, trans === 'nt' ? t(b) : b]), ElemType.DOUBLE, ['m', 'n'], 'c');
      s = createGraphSession(g.serialize('gemm.onnx.data'), this.opts);
      this.sessions.set(trans, s);
    }
    return s;
  }

  /**
   * C = op(a) op(b), m x n, with op(a) m x k and op(b) k x n: `nn` plain, `nt` b given as n x k,
   * `tn` a given as k x m (row-major throughout).
   */
  async gemm(a: Float64Array, b: Float64Array, m: number, k: number, n: number, trans: Trans = 'nn'): Promise<Float64Array> {
    if (a.length !== m * k || b.length !== k * n) throw new RangeError(`gemm: operands of ${a.length} and ${b.length} values do not make ${m}x${k} by ${k}x${n}`);
    if (m === 0 || n === 0) return new Float64Array(m * n);
    if (k === 0) return new Float64Array(m * n);
    const s = await this.session(trans);
    const { c } = await s.run({
      a: { data: a, dims: trans === 'tn' ? [k, m] : [m, k] },
      b: { data: b, dims: trans === 'nt' ? [n, k] : [k, n] },
    });
    return c.data as Float64Array;
  }

  /**
   * Lower Cholesky factor of the n x n SPD matrix `A` (its lower triangle is read), computed in place:
   * A is overwritten with L (strict upper triangle zeroed) and returned.
   * @throws NotPositiveDefinite with the index of the first failing pivot.
   */
  async cholesky(A: Float64Array, n: number): Promise<Float64Array> {
    if (A.length !== n * n) throw new RangeError(`cholesky: A has ${A.length} entries, expected ${n}x${n}`);
    const nb = this.block;
    if (n <= nb) return cholesky(A, n, { inPlace: true });
    for (let k0 = 0; k0 < n; k0 += nb) {
      const kb = Math.min(nb, n - k0);
      const D = sub(A, n, k0, k0, kb, kb);
      try {
        cholesky(D, kb, { inPlace: true });
      } catch (err) {
        if (err instanceof NotPositiveDefinite) throw new NotPositiveDefinite(err.pivot + k0, err.value);
        throw err;
      }
      put(A, n, k0, k0, D, kb, kb);
      const m = n - k0 - kb;
      if (m === 0) break;
      // panel below the diagonal block: L21 = A21 L11^-T
      const panel = await this.gemm(sub(A, n, k0 + kb, k0, m, kb), lowerInverse(D, kb), m, kb, kb, 'nt');
      put(A, n, k0 + kb, k0, panel, m, kb);
      // trailing matrix, lower triangle, one block row at a time: A22 -= L21 L21^T
      for (let r0 = 0; r0 < m; r0 += nb) {
        const rb = Math.min(nb, m - r0);
        const cols = r0 + rb;
        const U = await this.gemm(panel.subarray(r0 * kb, (r0 + rb) * kb), panel.subarray(0, cols * kb), rb, kb, cols, 'nt');
        for (let r = 0; r < rb; r++) {
          const row = (k0 + kb + r0 + r) * n + k0 + kb;
          for (let c = 0; c < cols; c++) A[row + c] -= U[r * cols + c];
        }
      }
    }
    for (let i = 0; i < n; i++) A.fill(0, i * n + i + 1, (i + 1) * n);
    return A;
  }

  /** Inverses of L's diagonal blocks, in order. */
  private diagonalInverses(L: Float64Array, n: number): Float64Array[] {
    const out: Float64Array[] = [];
    for (let i0 = 0; i0 < n; i0 += this.block) {
      const ib = Math.min(this.block, n - i0);
      out.push(lowerInverse(sub(L, n, i0, i0, ib, ib), ib));
    }
    return out;
  }

  /**
   * diag(A^-1) from A's Cholesky factor L: (A^-1)_jj = ||L^-1 e_j||^2. L^-1 is formed one block of
   * columns at a time (n x block doubles) and reduced to its column norms.
   */
  async inverseDiagonal(L: Float64Array, n: number): Promise<Float64Array> {
    if (L.length !== n * n) throw new RangeError(`inverseDiagonal: L has ${L.length} entries, expected ${n}x${n}`);
    const nb = this.block;
    if (n <= nb) return choleskyInverseDiagonal(L);
    const inv = this.diagonalInverses(L, n);
    const diag = new Float64Array(n);
    for (let j0 = 0, J = 0; j0 < n; j0 += nb, J++) {
      const jb = Math.min(nb, n - j0);
      // Y = rows j0.. of L^-1 e_{j0..j0+jb}: block J is inv[J], block I solves L_II Y_I = -L[I, J..I-1] Y[J..I-1]
      const Y = new Float64Array((n - j0) * jb);
      Y.set(inv[J]);
      for (let i0 = j0 + jb, I = J + 1; i0 < n; i0 += nb, I++) {
        const ib = Math.min(nb, n - i0);
        const span = i0 - j0;
        const S = await this.gemm(sub(L, n, i0, j0, ib, span), Y.subarray(0, span * jb), ib, span, jb);
        const YI = await this.gemm(inv[I], S, ib, ib, jb);
        for (let x = 0; x < YI.length; x++) Y[span * jb + x] = -YI[x];
      }
      for (let r = 0; r < n - j0; r++) for (let c = 0; c < jb; c++) diag[j0 + c] += Y[r * jb + c] ** 2;
    }
    return diag;
  }

  /** Solves A X = B given A's Cholesky factor L (n x n) for `nrhs` right-hand sides (B: n x nrhs). Returns X. */
  async solve(L: Float64Array, B: Float64Array, n: number, nrhs: number): Promise<Float64Array> {
    if (L.length !== n * n || B.length !== n * nrhs) throw new RangeError(`solve: L has ${L.length} and B ${B.length} entries, expected ${n}x${n} and ${n}x${nrhs}`);
    const nb = this.block;
    if (n <= nb) return choleskySolve(L, B, nrhs);
    const inv = this.diagonalInverses(L, n);
    const X = Float64Array.from(B);
    const minus = (dst: Float64Array, at: number, v: Float64Array) => {
      for (let x = 0; x < v.length; x++) dst[at + x] -= v[x];
    };
    // forward, L Y = B: Y_I = L_II^-1 (B_I - L[I, :I] Y[:I])
    for (let i0 = 0, I = 0; i0 < n; i0 += nb, I++) {
      const ib = Math.min(nb, n - i0);
      if (i0 > 0) minus(X, i0 * nrhs, await this.gemm(sub(L, n, i0, 0, ib, i0), X.subarray(0, i0 * nrhs), ib, i0, nrhs));
      X.set(await this.gemm(inv[I], X.slice(i0 * nrhs, (i0 + ib) * nrhs), ib, ib, nrhs), i0 * nrhs);
    }
    // backward, L^T X = Y: X_I = L_II^-T (Y_I - L[I+1:, I]^T X[I+1:])
    for (let I = inv.length - 1; I >= 0; I--) {
      const i0 = I * nb;
      const ib = Math.min(nb, n - i0);
      const below = n - i0 - ib;
      if (below > 0) minus(X, i0 * nrhs, await this.gemm(sub(L, n, i0 + ib, i0, below, ib), X.subarray((i0 + ib) * nrhs), ib, below, nrhs, 'tn'));
      X.set(await this.gemm(inv[I], X.slice(i0 * nrhs, (i0 + ib) * nrhs), ib, ib, nrhs, 'tn'), i0 * nrhs);
    }
    return X;
  }

  async release(): Promise<void> {
    const open = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of open) await (await s).release();
  }
}
