/**
 * @module What the rest of flatgate needs from a tensor engine, without naming one: run a serialized
 * graph on named tensors, and step a decoder with an opaque KV cache. `local-backend.ts` implements it
 * with onnxruntime-node; a remote backend (HTTP) can implement it where native code cannot load.
 */

/** A dense tensor crossing the engine boundary. */
export interface HostTensor {
  data: Float32Array | Float64Array | BigInt64Array | Int32Array;
  dims: number[];
}

/** Execution provider preference: `auto` tries CUDA and falls back to the CPU. */
export type ProviderPreference = 'auto' | 'cuda' | 'cpu';

/** Options for creating a session. */
export interface SessionOptions {
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /**
   * Let idle intra-op threads spin before sleeping (onnxruntime's `session.intra_op.allow_spinning`).
   * Off by default: a spinning idle session steals cores from the variant or worker that is busy.
   */
  spinning?: boolean;
  provider?: ProviderPreference;
}

/** A session over one graph. `run` may be called concurrently. */
export interface GraphSession {
  /** The provider actually used (`cuda` or `cpu`). */
  readonly provider: 'cuda' | 'cpu';
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, HostTensor>, outputs?: readonly string[]): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

/** The KV cache of one sequence batch: opaque outside the backend, except for its length. */
export interface KvCache {
  readonly batch: number;
  readonly length: number;
}

/** One decoder step's result. */
export interface DecoderStep {
  /** Logits [batch, logitsLength, vocab], row-major. */
  logits: Float32Array;
  logitsLength: number;
  cache: KvCache;
  /** `hidden[l]`: input of block l, [batch, seq, D] (only when the session was built with hidden states). */
  hidden?: Float32Array[];
}

/** A decoder: feed new tokens (with the cache of the ones before), get logits and the grown cache. */
export interface DecoderSession {
  readonly provider: 'cuda' | 'cpu';
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly numLayers: number;
  /**
   * Runs `ids` ([batch, seq] row-major, all rows the same length) after `cache` (or from scratch).
   * `logitsToKeep` limits logits to the last n positions (all by default). `capacity` sizes a new cache
   * for the positions the sequence will reach (it grows when exceeded). The cache passed in is consumed:
   * continue with the one returned.
   */
  step(ids: readonly number[], batch: number, cache: KvCache | null, logitsToKeep?: number, capacity?: number): Promise<DecoderStep>;
  /** A batch of at most `maxRows` sequences decoded together (continuous batching), where supported. */
  openBatch?(maxRows: number): DecoderBatch;
  release(): Promise<void>;
}

/**
 * Sequences decoded together: one engine run per step for all rows, each row at its own position in its
 * own KV cache row. Rows join (prefilled alone) and leave between steps. Calls must not overlap.
 */
export interface DecoderBatch {
  /** Rows in the batch now. */
  readonly rows: number;
  readonly maxRows: number;
  /** Bytes held by the KV cache now. */
  readonly kvBytes: number;
  /**
   * Prefills `ids` as a new last row with room for `capacity` positions in all; returns the logits of
   * its last position [vocab].
   */
  join(ids: readonly number[], capacity: number): Promise<Float32Array>;
  /** Feeds `ids[r]` to row r for every row; returns logits [rows, vocab], valid until the next step. */
  step(ids: readonly number[]): Promise<Float32Array>;
  /** Removes row r; the last row moves into its place. The cache is freed when no row is left. */
  leave(r: number): void;
}
