/**
 * @module One transformer block as an onnxruntime session (the block graph of src/serving/graph), fed
 * with hidden states of full sequences at positions 0..seq-1. Works for flattened (wider) blocks too.
 */
import type { LayerWeights, ModelConfig } from '../model/types.ts';
import { buildBlockGraph, type BlockGraphShape } from '../serving/graph/block-graph.ts';
import type { GraphSession, SessionOptions } from '../serving/session/backend.ts';
import { createGraphSession } from '../serving/session/local-backend.ts';

/** The shape a block graph needs, from the model config. */
export function blockShape(config: ModelConfig): BlockGraphShape {
  return {
    headDim: config.headDim,
    rmsNormEps: config.rmsNormEps,
    ropeTheta: config.ropeTheta,
    maxPositions: config.maxPositions,
    slidingWindow: config.slidingWindow,
  };
}

/** Outputs a block session can return. */
export type BlockOutput = 'output' | 'head_outputs' | 'mlp_activations';

/** A block on onnxruntime. */
export interface BlockSession {
  readonly provider: 'cuda' | 'cpu';
  /**
   * Runs the block on `hidden` ([batch, seq, D]); returns the requested outputs, row-major:
   * output [batch, seq, D], head_outputs [batch, seq, H*dh], mlp_activations [batch, seq, I].
   */
  run(hidden: Float32Array, batch: number, seq: number, outputs: readonly BlockOutput[]): Promise<Partial<Record<BlockOutput, Float32Array>>>;
  release(): Promise<void>;
}

/**
 * Builds the block's graph and opens a session on it.
 * @example const s = await createBlockSession(layer, blockShape(cfg), { threads: 2 });
 */
export async function createBlockSession(layer: LayerWeights, shape: BlockGraphShape, opts: SessionOptions = {}): Promise<BlockSession> {
  const session: GraphSession = await createGraphSession(buildBlockGraph(layer, shape), opts);
  const D = layer.q.cols;
  return {
    provider: session.provider,
    async run(hidden, batch, seq, outputs) {
      if (hidden.length !== batch * seq * D) throw new RangeError(`block input has ${hidden.length} values, expected ${batch}x${seq}x${D}`);
      const positions = new BigInt64Array(batch * seq);
      for (let i = 0; i < positions.length; i++) positions[i] = BigInt(i % seq);
      const res = await session.run(
        {
          hidden: { data: hidden, dims: [batch, seq, D] },
          attention_mask: { data: new BigInt64Array(batch * seq).fill(1n), dims: [batch, seq] },
          position_ids: { data: positions, dims: [batch, seq] },
        },
        outputs,
      );
      const out: Partial<Record<BlockOutput, Float32Array>> = {};
      for (const name of outputs) out[name] = res[name].data as Float32Array;
      return out;
    },
    release: () => session.release(),
  };
}
